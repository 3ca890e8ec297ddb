/*
 * Allocation logger for training/benchmarks/native_allocations.sh: preloaded into a JVM, it writes one line per
 * malloc, posix_memalign or aligned_alloc of 1 MB or more (the function's initial and the bytes asked for) to the
 * file named by NATIVE_ALLOCATIONS_LOG. Frees are not logged: the question it answers is how much is asked of the
 * allocator in each step, not what is live.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define LOGGED_FROM (1u << 20)

static void *(*next_malloc)(size_t);
static int (*next_posix_memalign)(void **, size_t, size_t);
static void *(*next_aligned_alloc)(size_t, size_t);
static __thread int logging; /* fopen() and fprintf() may allocate too */
static FILE *out;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void record(char kind, const void *block, size_t bytes) {
  if (logging || bytes < LOGGED_FROM || block == NULL) return;
  logging = 1;
  pthread_mutex_lock(&lock);
  if (out == NULL) {
    const char *name = getenv("NATIVE_ALLOCATIONS_LOG");
    out = fopen(name != NULL ? name : "native_allocations.log", "w");
  }
  if (out != NULL) {
    fprintf(out, "%c %zu\n", kind, bytes);
    fflush(out);
  }
  pthread_mutex_unlock(&lock);
  logging = 0;
}

void *malloc(size_t bytes) {
  if (next_malloc == NULL) next_malloc = (void *(*)(size_t)) dlsym(RTLD_NEXT, "malloc");
  void *block = next_malloc(bytes);
  record('M', block, bytes);
  return block;
}

int posix_memalign(void **block, size_t alignment, size_t bytes) {
  if (next_posix_memalign == NULL)
    next_posix_memalign = (int (*)(void **, size_t, size_t)) dlsym(RTLD_NEXT, "posix_memalign");
  int result = next_posix_memalign(block, alignment, bytes);
  if (result == 0) record('P', *block, bytes);
  return result;
}

void *aligned_alloc(size_t alignment, size_t bytes) {
  if (next_aligned_alloc == NULL)
    next_aligned_alloc = (void *(*)(size_t, size_t)) dlsym(RTLD_NEXT, "aligned_alloc");
  void *block = next_aligned_alloc(alignment, bytes);
  record('A', block, bytes);
  return block;
}
