#!/usr/bin/env bash
# Runs the notebooks headless on zoo4j's Java kernel and saves each with its outputs, in place; exits non-zero on the
# first cell error (a failed notebook keeps its previous saved outputs). Idempotent: installs what is missing, then runs.
#   notebooks/run.sh              every notebooks/*.ipynb, in name order
#   notebooks/run.sh NB.ipynb...  only these
#   notebooks/run.sh --check ...  the same, but the executed copies go to a temporary directory and the saved
#                                 notebooks are left as they are (what CI runs)
# Settings (environment):
#   ZOO4J_NOTEBOOK_JAVA   the java (21 or newer) that runs the kernel; default: Temurin 25 where installed, else `java`
#   ZOO4J_CACHE           where the kernel jar and its kernelspec live (default ~/.cache/zoo4j)
#   ZOO4J_CELL_TIMEOUT    seconds a cell may run (default 900)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cache="${ZOO4J_CACHE:-$HOME/.cache/zoo4j}"
kernel_version=3.0.1
kernel_sha256=cffac185dafff9a4d62ffdbeb357822b56931c41421c576314a84d3605addd09
kernel_jar="$cache/rapaio-jupyter-kernel-$kernel_version.jar"

# Jupyter from Debian's packages (nbconvert executes notebooks through nbclient).
if ! command -v jupyter-nbconvert >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "notebooks/run.sh: jupyter-nbconvert is missing and there is no apt-get; install Jupyter's nbconvert" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "notebooks/run.sh: installing jupyter-nbconvert python3-nbclient jupyter-client" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    jupyter-nbconvert python3-nbclient jupyter-client >/dev/null
fi

# A Java 21+ for the kernel (rapaio-jupyter-kernel needs it; zoo4j itself is built for 17 and runs on it).
java_bin="${ZOO4J_NOTEBOOK_JAVA:-}"
if [ -z "$java_bin" ]; then
  if [ -x /usr/lib/jvm/temurin-25-jdk-amd64/bin/java ]; then
    java_bin=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
  else
    java_bin="$(command -v java || true)"
  fi
fi
java_major="$("$java_bin" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
if [ -z "$java_major" ] || [ "${java_major%%.*}" -lt 21 ]; then
  echo "notebooks/run.sh: the Java kernel needs Java 21 or newer; '$java_bin' is ${java_major:-not a java}." \
       "Install one (e.g. Temurin 25) and point ZOO4J_NOTEBOOK_JAVA at its bin/java" >&2
  exit 1
fi

# The kernel: one self-contained jar from Maven Central, checked against its pinned digest.
mkdir -p "$cache"
if [ ! -f "$kernel_jar" ]; then
  echo "notebooks/run.sh: fetching io.github.padreati:rapaio-jupyter-kernel:$kernel_version from Maven Central" >&2
  mvn -q -B dependency:copy -Dartifact="io.github.padreati:rapaio-jupyter-kernel:$kernel_version" \
    -DoutputDirectory="$cache" >&2
fi
if ! echo "$kernel_sha256  $kernel_jar" | sha256sum -c --quiet - >/dev/null 2>&1; then
  echo "notebooks/run.sh: $kernel_jar does not have the pinned SHA-256 $kernel_sha256; delete it to fetch it again" >&2
  exit 1
fi
# rapaio-jupyter-kernel 3.0.1 (and 2.3.0) can lose a channel's polling thread at start-up and then never answer (see
# kernel-fix/LoopThread.java); the corrected class, compiled here, goes ahead of the jar on the kernel's class path.
fix_src="$here/kernel-fix/LoopThread.java"
fix_dir="$cache/kernel-fix-$kernel_version"
fix_class="$fix_dir/org/rapaio/jupyter/kernel/channels/LoopThread.class"
if [ ! -f "$fix_class" ] || [ "$fix_src" -nt "$fix_class" ]; then
  javac_bin="$(dirname "$(readlink -f "$java_bin")")/javac"
  if [ ! -x "$javac_bin" ]; then
    echo "notebooks/run.sh: '$java_bin' has no javac beside it; point ZOO4J_NOTEBOOK_JAVA at a JDK 21+ (not a JRE)" >&2
    exit 1
  fi
  rm -rf "$fix_dir"
  "$javac_bin" --release 21 -d "$fix_dir" "$fix_src"
fi
# Its kernelspec, kept under the cache (JUPYTER_PATH) so that nothing outside it is touched.
# --enable-native-access and (Java 23+) --sun-misc-unsafe-memory-access: ND4J loads its natives and reads memory
# through JavaCPP, which recent Javas warn about otherwise.
unsafe_opt=""
[ "${java_major%%.*}" -ge 23 ] && unsafe_opt='"--sun-misc-unsafe-memory-access=allow", '
spec="$cache/jupyter/kernels/zoo4j-java"
mkdir -p "$spec"
cat >"$spec/kernel.json" <<JSON
{
  "argv": ["$java_bin", "--enable-native-access=ALL-UNNAMED", $unsafe_opt "-Xmx3g", "-cp", "$fix_dir:$kernel_jar",
           "org.rapaio.jupyter.kernel.MainApp", "{connection_file}"],
  "display_name": "Java (zoo4j)",
  "language": "java",
  "interrupt_mode": "message",
  "env": {"RJK_TIMEOUT_MILLIS": "-1"}
}
JSON
export JUPYTER_PATH="$cache/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"

# zoo4j itself: target/zoo4j.jar (its manifest lists target/lib/*.jar), rebuilt when sources changed.
jar="$repo/target/zoo4j.jar"
if [ ! -f "$jar" ] || [ -n "$(find "$repo/src/main" "$repo/zoo" "$repo/data" "$repo/pom.xml" -newer "$jar" -print -quit 2>/dev/null)" ]; then
  echo "notebooks/run.sh: building target/zoo4j.jar" >&2
  rm -rf "$repo/target/lib"
  (cd "$repo" && mvn -q -B -DskipTests ${ZOO4J_MVN_ARGS:-} package) >&2
fi

check=""
if [ "${1:-}" = "--check" ]; then
  shift
  check="$(mktemp -d)"
  trap 'rm -rf "$check"' EXIT
fi
if [ $# -gt 0 ]; then
  notebooks=("$@")
else
  notebooks=("$here"/*.ipynb)
fi
for nb in "${notebooks[@]}"; do
  start=$(date +%s)
  echo "notebooks/run.sh: running $(basename "$nb")" >&2
  if [ -n "$check" ]; then
    # Executed from the notebooks' own directory (their relative paths), written to the temporary one.
    where=(--output-dir "$check")
  else
    where=(--inplace)
  fi
  # A kernel that never answers its first request gets one more try (the known cause of that is mended above); a cell
  # error does not, it fails the run.
  for attempt in 1 2; do
    log="$(mktemp)"
    if (cd "$(dirname "$nb")" && jupyter nbconvert --to notebook --execute "${where[@]}" \
        --ExecutePreprocessor.kernel_name=zoo4j-java \
        --ExecutePreprocessor.timeout="${ZOO4J_CELL_TIMEOUT:-900}" --ExecutePreprocessor.startup_timeout=90 \
        --log-level=WARN "$(basename "$nb")") 2> >(tee "$log" >&2); then
      rm -f "$log"
      break
    fi
    sleep 1 # let tee finish writing the log
    if [ "$attempt" -eq 1 ] && grep -q "Kernel didn't respond" "$log"; then
      echo "notebooks/run.sh: the kernel did not start for $(basename "$nb"); trying once more" >&2
      rm -f "$log"
      continue
    fi
    rm -f "$log"
    echo "notebooks/run.sh: FAILED: $nb (a cell raised an error; the file keeps its previous outputs)" >&2
    exit 1
  done
  echo "notebooks/run.sh: $(basename "$nb") ran in $(( $(date +%s) - start )) s" >&2
done
