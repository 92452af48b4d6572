#!/usr/bin/env bash
# CPU inference benchmark (not a test): the compiled d2l NiN-224 next to
# Debian's PyTorch 1.13 on the same machine, same batch, same threads, in one
# run, alternating, median of several; prints the ratio.
#   bench/cpu_infer.sh [BUILD_DIR=build] [BATCH=128] [THREADS=2] [ROUNDS=3]
set -euo pipefail
build=${1:-build} batch=${2:-128} threads=${3:-2} rounds=${4:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

start=$(date +%s.%N)
"$build/bin/ninc" compile "$root/models/nin.pb" --batch "$batch" --threads "$threads" -o "$work/nin"
compile_s=$(echo "$(date +%s.%N) - $start" | bc)
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; batch $batch, $threads threads"
echo "# ninc compile time: ${compile_s} s"

ninc_runs=() torch_runs=()
for r in $(seq "$rounds"); do
  n=$(OMP_NUM_THREADS=$threads "$work/nin" bench --iters 5 --warmup 1 | sed -n 's/.*, \([0-9.]*\) images\/s.*/\1/p')
  t=$(/usr/bin/python3 "$root/bench/torch_nin.py" --device cpu --threads "$threads" --batch "$batch" \
        --size 224 --no-compile --warmup 1 --iters 3 --repeats 3 --modes infer --variants "eager NCHW" \
      | awk '/^infer/ {print $(NF-2)}')
  echo "round $r: ninc $n images/s, PyTorch $t images/s"
  ninc_runs+=("$n") torch_runs+=("$t")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
nm=$(median "${ninc_runs[@]}") tm=$(median "${torch_runs[@]}")
echo "median: ninc $nm images/s, PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') $tm images/s, ratio $(echo "scale=2; $nm / $tm" | bc)x"
