#!/usr/bin/env bash
# Data-parallel training under mpirun (issue 18, docs/distributed.md), on
# nin-tiny (dropout included) with Fashion-MNIST:
#  - 2 ranks at batch 8 train as 1 process at batch 16: epoch lines within
#    print precision, the logits of both checkpoints on 40 test images within
#    1e-3 of the largest (float sums in another order);
#  - a 2-rank checkpoint resumes with 1 rank and the reverse, also from an
#    epoch stopped midway by SIGTERM (every rank stops at the same step);
#  - a rank killed with SIGKILL ends the job with a non-zero status and a
#    message naming it, and the last checkpoint still resumes;
#  - ranks given different data stop at the start with a message.
#   distributed.sh BIN_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
bin=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }
command -v mpirun > /dev/null || { echo "SKIP: mpirun is not installed (apt-get install openmpi-bin)"; exit 77; }
# Root in CI; loopback TCP between the ranks (shared memory's single-copy
# mode needs ptrace, which containers may forbid).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,tcp
# Under scripts/sanitize.sh: no leak check of the MPI processes. Open MPI
# keeps what MPI_Init allocates to the end, and its stacks end in frames
# LeakSanitizer cannot name (no frame pointers in Open MPI's libraries and
# components), so no suppression can select them. ASan's other checks and
# UBSan stay on here, and the same training code is leak-checked in the
# unit tests with the stand-in collective (DataParallelTest).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
mpi=(mpirun --oversubscribe --bind-to none -np 2)

"$bin/ninc" compile "$src/models/nin-tiny.pbtxt" --mode=train --batch 8 -o "$work/tiny8"
"$bin/ninc" compile "$src/models/nin-tiny.pbtxt" --mode=train --batch 16 -o "$work/tiny16"
# 90 images an epoch: 5 global batches of 16 and one of 10 (8 for rank 0, 2
# for rank 1).
common=(--train-limit 90 --test-limit 40 --lr 0.05 --momentum 0.9 -j 1)
epochs() { grep -h '^epoch [0-9]*, loss' "$@" | sed 's/, time.*//'; }
# The epoch lines of two runs: the same epochs, losses within 2e-4 and
# accuracies within 2 images (90 training, 40 test).
same_epochs() {
  paste -d' ' <(epochs "$1") <(epochs "$2") | awk -v what="$3" '
    { gsub(",", ""); n++
      if ($2 != $12 || (($4 - $14)^2 > 4e-8) || (($7 - $17)^2 > 0.0005) || (($10 - $20)^2 > 0.0026)) {
        print what ": epoch lines differ:\n  " $0; bad = 1 } }
    END { if (n == 0) { print what ": no epoch lines"; bad = 1 } exit bad }'
}
logits() { "$work/tiny16" infer --weights "$1" --limit 40 --save-logits "$2" -q > /dev/null; }

"$work/tiny16" train --epochs 2 "${common[@]}" --checkpoint "$work/one.pb" > "$work/one.txt"
logits "$work/one.pb" "$work/one.npy"
"${mpi[@]}" "$work/tiny8" train --epochs 2 "${common[@]}" --checkpoint "$work/two.pb" \
  > "$work/two.txt" 2> "$work/two.err" || { cat "$work/two.txt" "$work/two.err"; fail "2 ranks failed"; }
grep -q "of 6 batches of 16 (2 ranks x 8, MPI (Open MPI" "$work/two.txt" ||
  { cat "$work/two.txt"; fail "no 2-rank header"; }
[ "$(epochs "$work/two.txt" | wc -l)" = 2 ] || { cat "$work/two.txt"; fail "expected 2 epoch lines (rank 0's)"; }
grep -q "^allreduce of the gradients: .* ms a step on the last rank to arrive (the transfer), .* ms on rank 0" "$work/two.txt" ||
  { cat "$work/two.txt"; fail "no allreduce time"; }
same_epochs "$work/one.txt" "$work/two.txt" "2 ranks x 8 vs 1 x 16" || fail "epoch lines"
logits "$work/two.pb" "$work/two.npy"
"$bin/testtool" compare "$work/two.npy" "$work/one.npy" 1e-3 || fail "2 ranks x 8 vs 1 x 16: other weights"

# Resume: 2 ranks for epoch 1, then 1 rank; and the reverse.
"${mpi[@]}" "$work/tiny8" train --epochs 1 "${common[@]}" --checkpoint "$work/a.pb" > /dev/null
"$work/tiny16" train --epochs 2 "${common[@]}" --resume "$work/a.pb" --checkpoint "$work/a.pb" \
  > "$work/a.txt" 2> "$work/a.err"
grep -q "warning" "$work/a.err" && { cat "$work/a.err"; fail "resuming 2 ranks with 1 warned"; }
logits "$work/a.pb" "$work/a.npy"
"$bin/testtool" compare "$work/a.npy" "$work/one.npy" 1e-3 || fail "2 ranks then 1: other weights"
"$work/tiny16" train --epochs 1 "${common[@]}" --checkpoint "$work/b.pb" > /dev/null
"${mpi[@]}" "$work/tiny8" train --epochs 2 "${common[@]}" --resume "$work/b.pb" \
  --checkpoint "$work/b.pb" > "$work/b.txt"
logits "$work/b.pb" "$work/b.npy"
"$bin/testtool" compare "$work/b.npy" "$work/one.npy" 1e-3 || fail "1 rank then 2: other weights"

# SIGTERM in epoch 1 after its 3rd step (both ranks, as mpirun forwards it):
# a partial checkpoint after 48 images that 1 rank finishes.
rc=0
NINC_FAULT=step:3:TERM "${mpi[@]}" -x NINC_FAULT "$work/tiny8" train --epochs 2 "${common[@]}" \
  --checkpoint "$work/c.pb" > "$work/c.txt" 2>&1 || rc=$?
grep -q "stopped by SIGTERM in epoch 1 after batch 3 of 6" "$work/c.txt" ||
  { cat "$work/c.txt"; fail "SIGTERM: no stop line (status $rc)"; }
"$work/tiny16" train --epochs 2 "${common[@]}" --resume "$work/c.pb" --checkpoint "$work/c.pb" \
  > "$work/c2.txt"
grep -q "resuming from $work/c.pb in epoch 1 after batch 3 (step 3)" "$work/c2.txt" ||
  { cat "$work/c2.txt"; fail "SIGTERM: no resume line"; }
logits "$work/c.pb" "$work/c.npy"
"$bin/testtool" compare "$work/c.npy" "$work/one.npy" 1e-3 || fail "stopped by SIGTERM, resumed with 1 rank: other weights"

# Rank 1 dies (SIGKILL) at its 8th step, in epoch 2: the job ends non-zero
# naming it; epoch 1's checkpoint is intact and resumes.
rc=0
"${mpi[@]}" bash -c '[ "$OMPI_COMM_WORLD_RANK" = 1 ] && export NINC_FAULT=step:8; exec "$0" "$@"' \
  "$work/tiny8" train --epochs 2 "${common[@]}" --checkpoint "$work/k.pb" > "$work/k.txt" 2>&1 || rc=$?
[ $rc != 0 ] || { cat "$work/k.txt"; fail "a rank was killed, yet the job exited 0"; }
grep -qi "rank 1 .*signal 9\|process rank 1 .*killed" "$work/k.txt" ||
  { cat "$work/k.txt"; fail "the job's message does not name rank 1's death"; }
"$work/tiny16" train --epochs 2 "${common[@]}" --resume "$work/k.pb" --checkpoint "$work/k.pb" \
  > "$work/k2.txt" || { cat "$work/k2.txt"; fail "the checkpoint left by the killed job does not resume"; }
grep -q "resuming from $work/k.pb after epoch 1 (step 6)" "$work/k2.txt" || { cat "$work/k2.txt"; fail "killed: no resume line"; }
# Ranks that read different data stop at the start, naming the difference.
rc=0
"${mpi[@]}" bash -c 'limit=90; [ "$OMPI_COMM_WORLD_RANK" = 1 ] && limit=80; exec "$0" "$@" --train-limit $limit' \
  "$work/tiny8" train --epochs 1 --test-limit 40 -j 1 > "$work/m.txt" 2>&1 || rc=$?
[ $rc != 0 ] || { cat "$work/m.txt"; fail "ranks with different data: the job exited 0"; }
grep -q "error: rank 1 starts with 80 training images, rank 0 with 90" "$work/m.txt" ||
  { cat "$work/m.txt"; fail "ranks with different data: no message"; }
echo "PASS: 2 ranks = 1 process at twice the batch; resumes across 1 and 2 ranks; SIGTERM and a killed rank"
