#!/usr/bin/env bash
# gpu-check.sh: zoo4j's CUDA build verified on a real GPU, in one run (issue #20).
#
# On a machine with an NVIDIA GPU it checks what DL4J 1.0.0-M2.1's CUDA build needs (driver, GPU generation, CUDA 11
# and cuDNN 8 libraries), prints the device and driver, then:
#   1. mvn -Pgpu-reference test   CPU build: reference outputs, gradients and one SGD step of a network of each family
#                                 for fixed weights and inputs; LeNet-5's short run with 1 and 2 workers
#   2. mvn -Pgpu package          CUDA build: the gpu tier (the same on the GPU, compared; LeNet-5 with --workers 1, and
#                                 --workers 2 where there are two GPUs; ./zoo4j info), then the CUDA jar and target/lib
#   3. ./zoo4j info and ./zoo4j bench on the GPU: ResNet-20, ResNet-50 at 224 and VGG16-BN, training and inference
#                                 images/s, GPU memory (nvidia-smi, sampled every 200 ms)
#   4. mvn -Pgpu-return test      CPU build: the models saved on the GPU loaded and evaluated on the CPU
# and writes everything into one results file (Markdown). About 6 to 8 minutes once Maven's repository holds the
# dependencies (the CUDA build adds 1.2 GB of nd4j-cuda jars, and -Pcuda-redist 1.8 GB more, on the first run).
# Where the machine cannot run the check (no GPU, driver too old, a GPU generation the build has no kernels for,
# missing libraries) it stops at once, builds nothing, and says what is missing.
#
# Usage: training/benchmarks/gpu-check.sh [--out FILE] [--offline] [--redist | --no-redist] [--force]
#                                         [--preflight-only] [--no-bench] [--keep-build]
#   --out FILE        results file (default training/benchmarks/results-gpu-DATE.md)
#   --offline         Maven offline (-o): every dependency must be in the local repository already
#   --redist          build with -Pcuda-redist (CUDA 11.6 + cuDNN 8.3 libraries from Maven Central, 1.8 GB) even where
#                     the machine has the libraries; --no-redist never (fails where libraries are missing)
#   --force           go on where the GPU's compute capability has no kernels in the build (to see the failure)
#   --preflight-only  check the machine, print what would run, stop
#   --no-bench        skip the benchmark
#   --keep-build      keep target/zoo4j.jar and target/lib (the CUDA build) afterwards; by default they are removed
#                     so that ./zoo4j rebuilds for the CPU
#   --dry-run-on-cpu  for developing the check on a machine without a GPU: no GPU checks, phase 2 runs the gpu tier's
#                     code on the CPU build (-Dzoo4j.gpuCheck.dryRunOnCpu=true), no benchmark; never a GPU result
# Environment: ZOO4J_NVIDIA_SMI (nvidia-smi to run), ZOO4J_CUDA_LIB_DIRS (search only these directories, colon-
#   separated, instead of the loader's cache and the usual places), ZOO4J_GPU_CHECK_OFFLINE=1 (as --offline),
#   ZOO4J_GPU_TF32 (NVIDIA_TF32_OVERRIDE for the comparisons; default 0: TF32 off, so Ampere+ compares in full FP32),
#   MAVEN_REPO (local repository; default ~/.m2/repository), ZOO4J_GPU_BENCH_JAVA_OPTS.
# Exit codes: 0 every check passed; 1 a check failed (the results file says which); 2 bad arguments;
#   3 this machine cannot run the check (nothing was built).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
smi="${ZOO4J_NVIDIA_SMI:-nvidia-smi}"
out=""
offline="${ZOO4J_GPU_CHECK_OFFLINE:-0}"
redist="auto"
force=0
preflight_only=0
bench=1
keep_build=0
dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="${2:?--out needs a file}"; shift 2 ;;
    --offline) offline=1; shift ;;
    --redist) redist="yes"; shift ;;
    --no-redist) redist="no"; shift ;;
    --force) force=1; shift ;;
    --preflight-only) preflight_only=1; shift ;;
    --no-bench) bench=0; shift ;;
    --keep-build) keep_build=1; shift ;;
    --dry-run-on-cpu) dry_run=1; bench=0; shift ;;
    -h|--help) sed -n '2,36p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

# What nd4j-cuda-11.6 1.0.0-M2.1 needs (training/benchmarks/README.md, CUDA build; found by reading its jars, see
# training/benchmarks/README.md): a driver for CUDA 11 (minor-version compatibility from 450.80.02; 510.39.01 is
# CUDA 11.6's own), libnd4jcuda.so's machine code (sm_37 to sm_86, no PTX), and these libraries.
MIN_DRIVER="450.80.02"
CUDA116_DRIVER="510.39.01"
SASS_ARCHS="3.7 5.0 5.2 6.0 6.1 7.0 7.5 8.0 8.6"
NEEDED_LIBS="libcudart.so.11.0 libcublas.so.11 libcublasLt.so.11 libcusolver.so.11 libcudnn.so.8"
REDIST_PATH="org/bytedeco/cuda/11.6-8.3-1.5.7/cuda-11.6-8.3-1.5.7-linux-x86_64-redist.jar"

t0=$(date +%s)
stop() { # code, message...
  local code="$1"; shift
  echo "gpu-check: $*" >&2
  echo "gpu-check: stopped after $(( $(date +%s) - t0 )) s; nothing was built or run." >&2
  exit "$code"
}
say() { echo "gpu-check: $*" >&2; }

use_redist=0
gpus="(dry run on the CPU: no GPU)"
libs_report="  (dry run on the CPU: not checked)"$'\n'
if [ "$dry_run" = 1 ]; then
  say "DRY RUN ON THE CPU: the GPU, driver and library checks are skipped; nothing this run measures is a GPU result."
else
  # ---- 1. the GPU and its driver ---------------------------------------------------------------------------------
  if ! command -v "$smi" >/dev/null 2>&1; then
    stop 3 "no NVIDIA GPU here: $smi was not found (no NVIDIA driver is installed). This check needs a machine with" \
      "an NVIDIA GPU of compute capability 3.7 to 8.x and a driver >= $MIN_DRIVER."
  fi
  if ! gpus="$("$smi" --query-gpu=index,name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1)"; then
    # Drivers before about 510 do not know the compute_cap field: ask without it.
    if ! gpus="$("$smi" --query-gpu=index,name,driver_version,memory.total --format=csv,noheader 2>&1)"; then
      stop 3 "no NVIDIA GPU here: '$smi' failed: $gpus"
    fi
  fi
  gpus="$(printf '%s\n' "$gpus" | sed '/^[[:space:]]*$/d')"
  [ -n "$gpus" ] || stop 3 "no NVIDIA GPU here: $smi lists no device."
  gpu_count=$(printf '%s\n' "$gpus" | wc -l)
  driver="$(printf '%s\n' "$gpus" | head -1 | cut -d, -f3 | tr -d ' ')"
  say "$gpu_count GPU(s):"; printf '  %s\n' "$gpus" >&2
  say "driver $driver"
  oldest="$(printf '%s\n%s\n' "$MIN_DRIVER" "$driver" | sort -V | head -1)"
  if [ "$oldest" != "$MIN_DRIVER" ]; then
    stop 3 "NVIDIA driver $driver is older than $MIN_DRIVER, the oldest that runs CUDA 11.x programs (CUDA 11.6's own" \
      "driver is $CUDA116_DRIVER); update the driver."
  fi
  if [ "$(printf '%s\n%s\n' "$CUDA116_DRIVER" "$driver" | sort -V | head -1)" != "$CUDA116_DRIVER" ]; then
    say "note: driver $driver is older than CUDA 11.6's $CUDA116_DRIVER; it runs CUDA 11.6 programs through NVIDIA's" \
      "minor-version compatibility (no PTX JIT, which this build does not need)."
  fi
  while IFS=, read -r idx name _drv _mem cc; do
    cc="$(echo "${cc:-}" | tr -d ' ')"
    name="${name# }"
    if [ -z "$cc" ] || [ "$cc" = "[N/A]" ]; then
      say "GPU $idx ($name): compute capability not reported by this driver; the gpu tier will show whether it runs."
      continue
    fi
    major="${cc%%.*}"
    supported=0
    for a in $SASS_ARCHS; do
      # A cubin runs on its own major version at the same or a higher minor (8.6 code runs on 8.9).
      if [ "${a%%.*}" = "$major" ] && [ "$(printf '%s\n%s\n' "$a" "$cc" | sort -V | head -1)" = "$a" ]; then supported=1; fi
    done
    if [ "$supported" = 0 ]; then
      msg="GPU $idx ($name) has compute capability $cc, but nd4j-cuda-11.6 1.0.0-M2.1's libnd4jcuda.so holds machine code"
      msg="$msg for compute capability $SASS_ARCHS only and no PTX, so none of its kernels can run on it (CUDA would"
      msg="$msg report 'no kernel image is available for execution on the device'). Hopper (H100, H200, 9.0) and newer"
      msg="$msg GPUs cannot run DL4J M2.1's CUDA build; Maven Central has no newer nd4j-cuda for M2.1."
      if [ "$force" = 1 ]; then say "$msg --force: going on anyway."; else stop 3 "$msg (--force tries anyway)"; fi
    fi
  done <<< "$gpus"

  # ---- 2. the CUDA 11 and cuDNN 8 libraries ----------------------------------------------------------------------
  find_lib() { # prints where $1 is, or nothing
    local lib="$1" d dirs
    if [ -n "${ZOO4J_CUDA_LIB_DIRS:-}" ]; then
      dirs="$ZOO4J_CUDA_LIB_DIRS"
    else
      local hit
      hit="$(ldconfig -p 2>/dev/null | awk -v n="$lib" '$1 == n { print $NF; exit }')"
      [ -n "$hit" ] && { echo "$hit"; return; }
      dirs="${LD_LIBRARY_PATH:-}:/usr/local/cuda-11.6/lib64:/usr/local/cuda/lib64:/usr/lib/x86_64-linux-gnu:/usr/lib64"
    fi
    IFS=: read -ra list <<< "$dirs"
    for d in "${list[@]}"; do
      [ -n "$d" ] && [ -e "$d/$lib" ] && { echo "$d/$lib"; return; }
    done
  }
  missing=""
  libs_report=""
  for lib in $NEEDED_LIBS; do
    where="$(find_lib "$lib")"
    if [ -n "$where" ]; then libs_report="$libs_report  $lib: $where"$'\n'; else
      libs_report="$libs_report  $lib: not found"$'\n'; missing="$missing $lib"; fi
  done
  say "CUDA libraries:"; printf '%s' "$libs_report" >&2
  repo="${MAVEN_REPO:-$HOME/.m2/repository}"
  if [ "$redist" = yes ] || { [ "$redist" = auto ] && [ -n "$missing" ]; }; then
    if [ -f "$repo/$REDIST_PATH" ]; then
      redist_source="in the local repository ($repo)"
    elif [ "$offline" != 1 ] && curl -sfI --max-time 15 "https://repo1.maven.org/maven2/$REDIST_PATH" >/dev/null 2>&1; then
      redist_source="from Maven Central (1.8 GB on the first run)"
    else
      stop 3 "missing:$missing. They come with CUDA 11.x's runtime, cuBLAS and cuSOLVER (11.6 or a later 11.x) and cuDNN 8.3 or later" \
        "8.x for CUDA 11; or build with -Pcuda-redist, which takes them from org.bytedeco:cuda:11.6-8.3-1.5.7:linux-x86_64-redist" \
        "(1.8 GB), but that jar is not in $repo and Maven Central cannot be reached$([ "$offline" = 1 ] && echo ' (offline)')."
    fi
    use_redist=1
    say "CUDA 11.6 and cuDNN 8.3 libraries: the redist jar (-Pcuda-redist), $redist_source"
  elif [ -n "$missing" ]; then
    stop 3 "missing:$missing (--no-redist). Install CUDA 11.x's runtime, cuBLAS, cuSOLVER and cuDNN 8 for CUDA 11, or drop --no-redist."
  fi

fi

# ---- 3. Java, Maven, data --------------------------------------------------------------------------------------
command -v java >/dev/null 2>&1 || stop 3 "no java: install a JDK 17 or later (data/install.sh does)."
command -v mvn >/dev/null 2>&1 || stop 3 "no mvn: install Maven 3.6 or later (data/install.sh does)."
java_major="$(java -version 2>&1 | head -1 | sed -E 's/.*version "([0-9]+).*/\1/')"
[ "${java_major:-0}" -ge 17 ] 2>/dev/null || stop 3 "java $java_major is too old: zoo4j needs 17 or later."
fmnist=""
for d in "${ZOO4J_DATA:-$HOME/.zoo4j/data}/fashion-mnist" /usr/share/datasets/fashion-mnist; do
  if [ -e "$d/train-images-idx3-ubyte.gz" ] || [ -e "$d/train-images-idx3-ubyte" ]; then fmnist="$d"; break; fi
done
if [ -z "$fmnist" ]; then
  [ "$offline" = 1 ] && stop 3 "Fashion-MNIST is not on this machine and --offline forbids the download:" \
    "apt-get install dataset-fashion-mnist, or copy its four files into ~/.zoo4j/data/fashion-mnist."
  say "Fashion-MNIST: not here yet; the first phase downloads it into ~/.zoo4j/data (30 MB)."
else
  say "Fashion-MNIST: $fmnist"
fi
mvn_flags=(-B -ntp)
[ "$offline" = 1 ] && mvn_flags+=(-o)
[ -n "${MAVEN_REPO:-}" ] && mvn_flags+=("-Dmaven.repo.local=$MAVEN_REPO")
gpu_profiles="gpu"
[ "$use_redist" = 1 ] && gpu_profiles="gpu,cuda-redist"
tf32="${ZOO4J_GPU_TF32:-0}"
say "plan: mvn -Pgpu-reference test; NVIDIA_TF32_OVERRIDE=$tf32 mvn -P$gpu_profiles package; info and bench on the GPU;" \
  "mvn -Pgpu-return test ($(( $(date +%s) - t0 )) s of checks so far)"
if [ "$preflight_only" = 1 ]; then
  say "preflight only: this machine can run the check."
  exit 0
fi

# ---- 4. the check ----------------------------------------------------------------------------------------------
cd "$root" || exit 1
[ -n "$out" ] || out="$here/results-gpu-$(date +%F).md"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
work="$root/target/gpu-check"
logs="$work/logs"
rm -rf "$work"
mkdir -p "$logs" "$(dirname "$out")"
phase_seconds=()
failed=()

phase() { # name, log, command...
  local name="$1" log="$2"; shift 2
  local s rc
  s=$(date +%s)
  say "$name: $*"
  "$@" > "$log" 2>&1
  rc=$?
  phase_seconds+=("$name: $(( $(date +%s) - s )) s (exit $rc)")
  say "$name: exit $rc after $(( $(date +%s) - s )) s (log: ${log#"$root"/})"
  return $rc
}

# Tests, failures, errors and skipped of one test class, from surefire's XML report.
counts() {
  local f="$root/target/surefire-reports/TEST-org.zoo4j.gpu.$1.xml"
  [ -f "$f" ] || { echo "no report (the phase did not reach its tests)"; return; }
  grep -m1 -o '<testsuite [^>]*>' "$f" | grep -oE '(tests|failures|errors|skipped)="[0-9]+"' | tr -d '"' | paste -sd' ' -
}
passed() { # test class: true when its report shows tests and no failures or errors
  local c; c="$(counts "$1")"
  [[ "$c" =~ tests=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -gt 0 ] && [[ "$c" == *"failures=0"* ]] && [[ "$c" == *"errors=0"* ]]
}

rm -rf target/lib target/surefire-reports
phase "1 CPU reference" "$logs/1-reference.log" mvn "${mvn_flags[@]}" -Pgpu-reference test || true
passed GpuReferenceTest || failed+=("CPU reference (GpuReferenceTest)")

rm -rf target/lib
if [ "$dry_run" = 1 ]; then
  phase "2 GPU tier's code on the CPU (dry run)" "$logs/2-gpu.log" mvn "${mvn_flags[@]}" -Dtest.groups=gpu \
    -Dtest.excludedGroups= -Dzoo4j.gpuCheck.dryRunOnCpu=true -Dmaven.test.failure.ignore=true package || true
else
  NVIDIA_TF32_OVERRIDE="$tf32" phase "2 GPU tier and CUDA build" "$logs/2-gpu.log" \
    mvn "${mvn_flags[@]}" -P"$gpu_profiles" -Dmaven.test.failure.ignore=true package || true
fi
passed GpuTierTest || failed+=("GPU tier (GpuTierTest)")

cp="$root/target/zoo4j.jar:$root/target/lib/*"
info_out="(the CUDA build did not complete; see the log)"
bench_rows=""
if [ -f target/zoo4j.jar ]; then
  info_out="$(timeout 120 java -cp "$cp" org.zoo4j.cli.Main info 2>&1)" || failed+=("./zoo4j info on the CUDA build")
  if [ "$bench" = 1 ]; then
    jopts="${ZOO4J_GPU_BENCH_JAVA_OPTS:--Xmx8g -Dorg.bytedeco.javacpp.maxbytes=24g -Dorg.bytedeco.javacpp.maxphysicalbytes=0}"
    csv="$work/bench.csv"
    for spec in resnet20:128 resnet50-224:64 vgg16-bn:128; do
      net="${spec%%:*}"; batch="${spec##*:}"
      base="$("$smi" --query-gpu=memory.used --format=csv,noheader,nounits -i 0 2>/dev/null | head -1 | tr -d ' ')"
      "$smi" --query-gpu=memory.used --format=csv,noheader,nounits -i 0 -lms 200 > "$work/mem-$net.txt" 2>/dev/null &
      sampler=$!
      # shellcheck disable=SC2086
      phase "3 bench $net" "$logs/3-bench-$net.log" timeout 240 java $jopts -cp "$cp" org.zoo4j.cli.Main bench \
        --network "$net" --mode fit,infer --batch "$batch" --warmup-seconds 5 --repeats 3 --csv "$csv" \
        || failed+=("benchmark $net")
      kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
      peak="$(sort -n "$work/mem-$net.txt" 2>/dev/null | tail -1 | tr -d ' ')"
      bench_rows="$bench_rows$net|$batch|${peak:-?}|${base:-?}"$'\n'
    done
  fi
else
  failed+=("CUDA build (no target/zoo4j.jar)")
fi

phase "4 GPU-saved models on the CPU" "$logs/4-return.log" mvn "${mvn_flags[@]}" -Pgpu-return test || true
passed GpuReturnTest || failed+=("GPU-saved models on the CPU (GpuReturnTest)")
if [ "$keep_build" = 0 ]; then rm -rf target/lib target/zoo4j.jar; fi
total=$(( $(date +%s) - t0 ))

# ---- 5. the results file ---------------------------------------------------------------------------------------
{
  echo "# zoo4j GPU check, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  [ "$dry_run" = 1 ] && echo "**DRY RUN ON THE CPU (--dry-run-on-cpu): the gpu tier's code ran on the CPU build; nothing here is a GPU result.**" && echo
  echo "\`training/benchmarks/gpu-check.sh\` on $(hostname), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)'), $total s in all."
  echo
  if [ ${#failed[@]} -eq 0 ]; then echo "**Verdict: every check passed.**"; else
    joined="$(printf '%s; ' "${failed[@]}")"; echo "**Verdict: FAILED:** ${joined%; }."; fi
  echo
  echo "## Machine"
  echo
  echo '```'
  [ "$dry_run" = 1 ] || { "$smi" 2>&1 | head -25; echo; }
  echo "GPUs (index, name, driver, memory, compute capability):"
  printf '%s\n' "$gpus"
  echo "CUDA 11 / cuDNN 8 libraries on the machine:"
  printf '%s' "$libs_report"
  echo "build: mvn -P$gpu_profiles package (the gpu tier, then the CUDA jar); NVIDIA_TF32_OVERRIDE=$tf32 for the comparisons"
  java -version 2>&1 | head -1
  mvn -v 2>/dev/null | head -1 | sed 's/\x1b\[[0-9;]*m//g'
  echo "CPU: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; memory $(free -g 2>/dev/null | awk '/Mem:/ {print $2 " GiB"}')"
  echo '```'
  echo
  echo "## Tests"
  echo
  echo "| phase | class | result |"
  echo "|---|---|---|"
  echo "| 1 CPU reference (\`-Pgpu-reference\`) | GpuReferenceTest | $(counts GpuReferenceTest) |"
  echo "| 2 GPU tier (\`-P$gpu_profiles\`) | GpuTierTest | $(counts GpuTierTest) |"
  echo "| 4 GPU-saved models on the CPU (\`-Pgpu-return\`) | GpuReturnTest | $(counts GpuReturnTest) |"
  echo
  for p in reference gpu return; do
    echo "### report-$p.txt"
    echo
    echo '```'
    cat "$work/report-$p.txt" 2>/dev/null || echo "(not written: the phase stopped before its tests; log below)"
    echo '```'
    echo
  done
  echo "## ./zoo4j info (the build of phase 2)"
  echo
  echo '```'
  printf '%s\n' "$info_out"
  echo '```'
  echo
  if [ "$bench" = 1 ]; then
    echo "## Benchmark on the GPU"
    echo
    echo "Bare \`fit\` and inference over batches in memory (\`./zoo4j bench --mode fit,infer --warmup-seconds 5 --repeats 3\`),"
    echo "median of 3 timed runs of about 2 s each; TF32 as the driver defaults (not overridden). ResNet-20 and VGG16-BN"
    echo "(compact head) on 1x32x32 Fashion-MNIST, ResNet-50 on random 3x224x224 images, 10 classes, Adam."
    echo "GPU memory: the peak of nvidia-smi's memory.used on GPU 0 while the process ran (CUDA context, ND4J's caches"
    echo "and the up to 120 distinct batches the benchmark holds included), and before it started."
    echo
    echo "| network | mode | batch | median img/s | min..max img/s | peak GPU memory MiB (before) |"
    echo "|---|---|---|---|---|---|"
    while IFS='|' read -r net batch peak base; do
      [ -n "$net" ] || continue
      grep "^zoo4j,$net," "$work/bench.csv" 2>/dev/null | while IFS=, read -r _fw _n mode b _t _r med min max _h _rss _off; do
        echo "| $net | $mode | $b | $med | $min..$max | $peak ($base) |"
      done
    done <<< "$bench_rows"
    echo
    echo "PyTorch's CUDA figures are not beside these: zoo4j keeps no GPU peer, and a machine without network access"
    echo "(such as the workplace's H200) cannot install one."
    echo
  fi
  echo "## Timings"
  echo
  printf -- '- %s\n' "${phase_seconds[@]}"
  echo "- total: $total s"
  echo
  if [ ${#failed[@]} -gt 0 ]; then
    echo "## Log tails"
    echo
    for f in "$logs"/*.log; do
      echo "### ${f#"$root"/}"
      echo
      echo '```'
      grep -v -E '^\[INFO\] (Download|Copying)' "$f" | tail -60
      echo '```'
      echo
    done
  fi
} > "$out"
say "results: $out"
[ ${#failed[@]} -eq 0 ] && exit 0
say "FAILED: ${failed[*]}"
exit 1
