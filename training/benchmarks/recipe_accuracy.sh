#!/usr/bin/env bash
# A training recipe's test accuracy on zoo4j's layer helpers and on DL4J's own path (-Dzoo4j.layerHelpers=false), with
# the recipe's seeds and with others (data.seed=S and overrides.seed=S): whether a path changes the accuracy, against
# the spread a change of seeds makes.
#   training/benchmarks/recipe_accuracy.sh RECIPE [SEED...]
# e.g. training/benchmarks/recipe_accuracy.sh training/lenet5-fashion-mnist.yaml 2 3
# Prints a header (command, commit, machine), one line per run (path, seeds, the run's last log line), and keeps no run
# directory. Run it with nothing else on the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -lt 1 ] || [ ! -f "$1" ]; then
  echo "usage: training/benchmarks/recipe_accuracy.sh RECIPE [SEED...] (RECIPE: a recipe file)" >&2
  exit 2
fi
recipe=$1
shift
for seed in "$@"; do
  if ! [[ $seed =~ ^[0-9]+$ ]]; then
    echo "recipe_accuracy.sh: a seed is a whole number, got '$seed'" >&2
    exit 2
  fi
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "# training/benchmarks/recipe_accuracy.sh $recipe $*"
echo "# commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src pom.xml || echo ' (with uncommitted changes in src or pom.xml)'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for path in zoo4j dl4j; do
  options=""
  [ "$path" = dl4j ] && options="-Dzoo4j.layerHelpers=false"
  for seed in recipe "$@"; do
    set_seed=()
    [ "$seed" != recipe ] && set_seed=(--set "data.seed=$seed" --set "overrides.seed=$seed")
    run="$dir/$path-$seed"
    if ! JAVA_OPTS="${JAVA_OPTS:-} $options" ./zoo4j train "$recipe" "${set_seed[@]}" --out "$run" >"$dir/out" 2>"$dir/err"; then
      echo "recipe_accuracy.sh: the $path run with seeds $seed failed; its log without INFO lines:" >&2
      grep -v ' INFO ' "$dir/err" >&2 || true
      exit 1
    fi
    printf '%-6s seeds %-7s %s\n' "$path" "$seed" "$(grep 'test accuracy' "$dir/out" | tail -1 | sed 's/; run in .*//')"
    rm -rf "$run"
  done
done
