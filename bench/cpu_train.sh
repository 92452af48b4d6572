#!/usr/bin/env bash
# CPU training benchmark (not a test): one SGD step of the compiled d2l
# NiN-224 next to Debian's PyTorch 1.13 (same model, batch, threads), in one
# run, alternating, median of several; images/s and the peak resident memory
# of each process (GNU time), with the ratios.
#   bench/cpu_train.sh [BUILD_DIR=build] [BATCH=128] [THREADS=2] [ROUNDS=3] [SIZE=224]
set -euo pipefail
build=${1:-build} batch=${2:-128} threads=${3:-2} rounds=${4:-3} size=${5:-224}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

model="$root/models/nin.pb"
if [ "$size" != 224 ]; then
  sed -e "s/height: 224 width: 224/height: $size width: $size/" -e "s/resize: 224/resize: $size/" \
    "$root/models/nin.pbtxt" > "$work/nin.pbtxt"
  model="$work/nin.pbtxt"
fi
start=$(date +%s.%N)
"$build/bin/ninc" compile "$model" --mode=train --batch "$batch" --threads "$threads" -o "$work/nin"
compile_s=$(echo "$(date +%s.%N) - $start" | bc)
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; NiN ${size}x${size}, batch $batch, $threads threads, fp32"
echo "# ninc compile time (with training): ${compile_s} s"

peak() { sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\)/\1/p' "$1"; }
ninc_runs=() torch_runs=() ninc_rss=() torch_rss=()
for r in $(seq "$rounds"); do
  OMP_NUM_THREADS=$threads /usr/bin/time -v "$work/nin" bench --mode train --iters 3 --warmup 1 \
    > "$work/n.out" 2> "$work/n.time"
  n=$(sed -n 's/.*, \([0-9.]*\) images\/s.*/\1/p' "$work/n.out")
  /usr/bin/time -v /usr/bin/python3 "$root/bench/torch_nin.py" --device cpu --threads "$threads" \
      --batch "$batch" --size "$size" --no-compile --warmup 1 --iters 2 --repeats 3 --modes train \
      --variants "eager NCHW" > "$work/t.out" 2> "$work/t.time"
  t=$(awk '/^train/ {print $(NF-2)}' "$work/t.out")
  echo "round $r: ninc $n images/s ($(( $(peak "$work/n.time") / 1024 )) MiB), PyTorch $t images/s ($(( $(peak "$work/t.time") / 1024 )) MiB)"
  ninc_runs+=("$n") torch_runs+=("$t") ninc_rss+=("$(peak "$work/n.time")") torch_rss+=("$(peak "$work/t.time")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
nm=$(median "${ninc_runs[@]}") tm=$(median "${torch_runs[@]}")
nr=$(median "${ninc_rss[@]}") tr=$(median "${torch_rss[@]}")
echo "median: ninc $nm images/s, PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') $tm images/s, speed ratio $(echo "scale=2; $nm / $tm" | bc)x"
echo "peak RSS: ninc $((nr / 1024)) MiB, PyTorch $((tr / 1024)) MiB, memory ratio $(echo "scale=2; $nr / $tr" | bc)x"
