#!/usr/bin/env bash
# Data-parallel training on this machine (issue 18, not a test): NiN at
# 96x96 trained by 2 MPI ranks x 1 thread against 1 process x 2 threads,
# alternating, ROUNDS rounds, IMAGES training images each (one epoch; the
# test set is limited to 1000). Three runs a round:
#   1 x 2 threads, batch B          the README's program, alone
#   2 ranks x 1 thread, batch B     the same program under mpirun (global 2B)
#   2 ranks x 1 thread, batch B/2   global batch B, the step of the first run
# Prints each run's images/s (the "examples/sec" line: training only) and
# the allreduce's ms a step: on the rank that arrives last (the transfer)
# and on rank 0 (waiting for the slower rank included); medians over the
# rounds, and the ratios to the first.
#   bench/distributed.sh [BUILD_DIR=build] [BATCH=128] [ROUNDS=3] [IMAGES=3840]
set -euo pipefail
build=${1:-build} batch=${2:-128} rounds=${3:-3} images=${4:-3840}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Open MPI's default transports (shared memory between ranks on one host);
# OMPI_MCA_btl=self,tcp in the environment measures loopback TCP instead.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
half=$((batch / 2))
echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; Open MPI $(mpirun --version | head -1 | awk '{print $NF}'), btl ${OMPI_MCA_btl:-default}"
"$root/$build/bin/ninc" compile "$root/models/nin-96.pbtxt" --mode=train --batch "$batch" -o "$work/b$batch"
"$root/$build/bin/ninc" compile "$root/models/nin-96.pbtxt" --mode=train --batch "$half" -o "$work/b$half"
flags=(train --epochs 1 --train-limit "$images" --test-limit 1000)
run() { # NAME COMMAND...: appends "images/s allreduce-ms" to $work/NAME
  local name=$1; shift
  "$@" > "$work/$name.out" 2> "$work/$name.err" || { cat "$work/$name.out" "$work/$name.err"; exit 1; }
  local ips ms
  ips=$(sed -n 's/^\([0-9.]*\) examples\/sec.*/\1/p' "$work/$name.out")
  ms=$(sed -n 's/^allreduce of the gradients: \([0-9.]*\) ms a step .*, \([0-9.]*\) ms on rank 0.*/\1 \2/p' "$work/$name.out")
  echo "$ips ${ms:-- -}" >> "$work/$name"
  echo "  $name: $ips images/s${ms:+, allreduce (transfer, rank 0) $ms ms a step}"
}
for r in $(seq "$rounds"); do
  echo "round $r"
  run alone "$work/b$batch" -j 2 "${flags[@]}"
  run ranks2 mpirun --bind-to none -np 2 "$work/b$batch" -j 1 "${flags[@]}"
  run ranks2-half mpirun --bind-to none -np 2 "$work/b$half" -j 1 "${flags[@]}"
done
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
base=$(cut -d' ' -f1 "$work/alone" | median)
printf '\n| run | global batch | images/s (median of %d) | vs alone | allreduce ms a step: transfer (last rank to arrive) | on rank 0 (waiting included) |\n|---|---|---|---|---|---|\n' "$rounds"
for name in alone ranks2 ranks2-half; do
  ips=$(cut -d' ' -f1 "$work/$name" | median)
  ms=-; ms0=-
  if [ "$name" != alone ]; then
    ms=$(cut -d' ' -f2 "$work/$name" | median)
    ms0=$(cut -d' ' -f3 "$work/$name" | median)
  fi
  case $name in
    alone) what="1 process x 2 threads, batch $batch"; global=$batch ;;
    ranks2) what="2 ranks x 1 thread, batch $batch"; global=$((2 * batch)) ;;
    ranks2-half) what="2 ranks x 1 thread, batch $half"; global=$batch ;;
  esac
  printf '| %s | %d | %.1f | %.2fx | %s | %s |\n' "$what" "$global" "$ips" "$(echo "$ips / $base" | bc -l)" "$ms" "$ms0"
done
