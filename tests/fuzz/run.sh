#!/bin/bash
# Runs every fuzz target (or those named) for SECONDS each, from the seed
# corpora, and prints a table: executions, coverage (libFuzzer's cov: edges
# and ft: features), corpus size and findings. Corpora and findings are kept
# in WORK (default build-fuzz/fuzz-work) so later runs continue from them.
#
#   tests/fuzz/run.sh BUILD SECONDS [TARGET...]      (BUILD: a -DNINC_FUZZ=ON build)
#   NINC=build/bin/ninc ...   also seeds the ONNX target with exported models
#   JOBS=2 ...                targets run two at a time (default: 1)
#
# Exit status: 0 when no target found anything, 1 otherwise.
set -euo pipefail
build=$(realpath "$1"); seconds=$2; shift 2
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${WORK:-$build/fuzz-work}
jobs=${JOBS:-1}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(model-text model-binary model-onnx weights state idx npz npy image compile)
fi
mkdir -p "$work/findings" "$work/logs"
if [ ! -d "$work/seeds" ]; then
  /usr/bin/python3 "$repo/tests/fuzz/make_seeds.py" "$repo" "$work/seeds" ${NINC:-}
  mkdir -p "$work/seeds/weights" "$work/seeds/state" "$work/ckpt"
  : > "$work/ckpt/empty"
  NINC_FUZZ_SEED_OUT="$work/ckpt" "$build/fuzz/fuzz-state" "$work/ckpt/empty" >/dev/null 2>&1 || true
  cp "$work/ckpt/checkpoint.pb" "$work/seeds/weights/" 2>/dev/null || true
  cp "$repo"/models/*.pb "$work/seeds/weights/"
  cp "$work/ckpt/checkpoint.pb.state" "$work/seeds/state/valid.state" 2>/dev/null || true
fi

run_one() {
  local t=$1 corpus="$work/corpus/$1"
  mkdir -p "$corpus"
  # -rss_limit_mb / -malloc_limit_mb: an allocation the input does not
  # justify is a finding; -timeout: so is a hang (10 s an input).
  "$build/fuzz/fuzz-$t" "$corpus" "$work/seeds/$t" -max_total_time="$seconds" \
      -timeout=10 -rss_limit_mb=3072 -malloc_limit_mb=1024 -print_final_stats=1 \
      -artifact_prefix="$work/findings/$t-" -close_fd_mask=3 > "$work/logs/$t.log" 2>&1 || true
}

i=0
for t in "${targets[@]}"; do
  run_one "$t" &
  i=$((i + 1))
  if [ $((i % jobs)) -eq 0 ]; then wait; fi
done
wait

found=0
printf "%-14s %12s %8s %8s %8s %9s\n" target executions cov ft corpus findings
for t in "${targets[@]}"; do
  log="$work/logs/$t.log"
  execs=$(grep -o "stat::number_of_executed_units: [0-9]*" "$log" | tail -1 | grep -o "[0-9]*$" || echo "?")
  cov=$(grep -o "cov: [0-9]*" "$log" | tail -1 | grep -o "[0-9]*$" || echo "?")
  ft=$(grep -o "ft: [0-9]*" "$log" | tail -1 | grep -o "[0-9]*$" || echo "?")
  corpus=$(ls "$work/corpus/$t" | wc -l)
  n=$(ls "$work/findings" | grep -c "^$t-" || true)
  found=$((found + n))
  printf "%-14s %12s %8s %8s %8s %9s\n" "$t" "$execs" "$cov" "$ft" "$corpus" "$n"
done
echo "seconds each: $seconds; corpora in $work/corpus, findings in $work/findings, logs in $work/logs"
[ "$found" -eq 0 ]
