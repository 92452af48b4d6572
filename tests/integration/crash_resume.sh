#!/usr/bin/env bash
# Crash-safe training (issue 17): a run killed with SIGKILL anywhere - in a
# step, at an epoch's end, in each phase of writing a checkpoint, or at a
# random moment - and then resumed with --resume, as often as it takes, ends
# with weights identical, bit for bit, to an uninterrupted run's, and the
# same epoch lines (time aside); a resumed run redoes at most the epoch it
# was killed in. The kill points are the runtime's NINC_FAULT crash points
# (runtime/support/Fault.h). A full disk (a file-size limit) while writing a
# checkpoint is an error naming the file, and the checkpoint before stays
# intact with no temporary left beside it. SIGTERM and SIGINT stop after the
# step in flight with a checkpoint of the epoch so far.
#   crash_resume.sh BIN_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
bin=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }
"$bin/ninc" compile "$src/models/nin-tiny.pbtxt" --mode=train --batch 16 -o "$work/tiny"
# 3 epochs of 6 batches (the last one short: 90 images), 32 test images.
common=(--train-limit 90 --test-limit 32 --lr 0.05 --momentum 0.9)
flags=(--epochs 3 "${common[@]}")
epochs() { { grep -h '^epoch [0-9]*, loss' "$@" || true; } | sed 's/, time.*//'; }

"$work/tiny" train "${flags[@]}" --checkpoint "$work/ref.pb" > "$work/ref.txt"
epochs "$work/ref.txt" > "$work/ref-epochs.txt"
[ "$(wc -l < "$work/ref-epochs.txt")" = 3 ] || { cat "$work/ref.txt"; fail "the reference run printed no 3 epochs"; }

# One crash at `point` (NINC_FAULT=NAME:N, or "random:MS": SIGKILL after MS
# milliseconds), then resumes until the run completes.
crash() {
  local point=$1 dir="$work/$1" rc=0
  mkdir -p "$dir"
  if [[ $point == random:* ]]; then
    timeout -s KILL "0.${point#random:}" "$work/tiny" train "${flags[@]}" --checkpoint "$dir/ck.pb" \
      > "$dir/run0.txt" 2>&1 || rc=$?
  else
    NINC_FAULT=$point "$work/tiny" train "${flags[@]}" --checkpoint "$dir/ck.pb" \
      > "$dir/run0.txt" 2>&1 || rc=$?
    [ $rc = 137 ] || { cat "$dir/run0.txt"; fail "$point: expected death by SIGKILL (137), got $rc"; }
  fi
  local printed runs=0
  printed=$(epochs "$dir/run0.txt" | wc -l)
  rc=1
  while [ $rc != 0 ]; do
    runs=$((runs + 1)); [ $runs -le 2 ] || fail "$point: not finished after 2 resumes"
    local resume=()
    [ -e "$dir/ck.pb" ] && resume=(--resume "$dir/ck.pb")
    rc=0
    "$work/tiny" train "${flags[@]}" "${resume[@]}" --checkpoint "$dir/ck.pb" \
      > "$dir/run$runs.txt" 2>&1 || rc=$?
    [ $rc = 0 ] || { cat "$dir/run$runs.txt"; fail "$point: the resumed run failed ($rc)"; }
  done
  # At most the epoch being trained (or checkpointed) when killed is redone.
  local after=0
  after=$(grep -o 'resuming from .* after epoch [0-9]*' "$dir/run1.txt" | grep -o '[0-9]*$' || echo 0)
  [ "$after" -ge $((printed - 1)) ] || fail "$point: killed after $printed epochs, resumed after epoch $after"
  # The same weights, bit for bit, and the same epoch lines.
  cmp -s "$work/ref.pb" "$dir/ck.pb" || fail "$point: the weights differ from the uninterrupted run's"
  { epochs "$dir/run0.txt" | awk -v n="$after" 'NR <= n'; epochs "$dir/run1.txt"; } > "$dir/epochs.txt"
  diff "$work/ref-epochs.txt" "$dir/epochs.txt" > /dev/null ||
    { diff "$work/ref-epochs.txt" "$dir/epochs.txt"; fail "$point: other epoch lines"; }
  if ls "$dir" | grep '\.tmp\.' > /dev/null; then fail "$point: temporaries left: $(ls "$dir")"; fi
  echo "$point: killed after $printed epoch line(s), resumed after epoch $after, identical"
}

points=(step:1 step:4 step:6 step:7 step:11 step:12 step:13 step:17 step:18
        epoch:1 epoch:2 epoch:3
        checkpoint-written:1 checkpoint-written:2 checkpoint-written:3
        checkpoint-state:1 checkpoint-state:2 checkpoint-state:3
        checkpoint-committed:1 checkpoint-committed:2 checkpoint-committed:3
        random:1 random:2 random:4)
for p in "${points[@]}"; do crash "$p"; done
echo "${#points[@]} kill points: every resumed run equals the uninterrupted one"

# SIGTERM / SIGINT: the step in flight finishes, the checkpoint holds the
# epoch so far, the program exits 128 + the signal; resuming finishes the
# epoch exactly (the same epoch lines and weights).
stop() {
  local point=$1 want=$2 dir="$work/stop-$1" rc=0
  mkdir -p "$dir"
  NINC_FAULT=$point "$work/tiny" train "${flags[@]}" --checkpoint "$dir/ck.pb" > "$dir/run0.txt" 2>&1 || rc=$?
  [ $rc = "$want" ] || { cat "$dir/run0.txt"; fail "$point: expected exit $want, got $rc"; }
  grep -q "^stopped by SIG.*: saved to $dir/ck.pb; go on with --resume $dir/ck.pb" "$dir/run0.txt" ||
    { cat "$dir/run0.txt"; fail "$point: no 'stopped by' line"; }
  "$work/tiny" train "${flags[@]}" --resume "$dir/ck.pb" --checkpoint "$dir/ck.pb" > "$dir/run1.txt" 2>&1 ||
    { cat "$dir/run1.txt"; fail "$point: the resumed run failed"; }
  cmp -s "$work/ref.pb" "$dir/ck.pb" || fail "$point: the weights differ from the uninterrupted run's"
  { epochs "$dir/run0.txt"; epochs "$dir/run1.txt"; } > "$dir/epochs.txt"
  diff "$work/ref-epochs.txt" "$dir/epochs.txt" > /dev/null ||
    { diff "$work/ref-epochs.txt" "$dir/epochs.txt"; fail "$point: other epoch lines"; }
  echo "$point: $(grep -o '^stopped by SIG[A-Z]* [^:]*' "$dir/run0.txt"); $(grep -o '^resuming .*' "$dir/run1.txt"); identical"
}
stop step:4:TERM 143
stop step:9:INT 130
stop epoch:1:TERM 143

# A full disk while writing the epoch-2 checkpoint: a clear error, and the
# epoch-1 checkpoint stays as it was, with no temporary beside it.
d="$work/full"; mkdir -p "$d"
"$work/tiny" train --epochs 1 "${common[@]}" --checkpoint "$d/ck.pb" > /dev/null
cp "$d/ck.pb" "$d/ck.before"; cp "$d/ck.pb.state" "$d/state.before"
size=$(($(stat -c %s "$d/ck.pb") / 1024 / 2)) # KiB: half the checkpoint
rc=0; (ulimit -f "$size"; exec "$work/tiny" train "${flags[@]}" --resume "$d/ck.pb" --checkpoint "$d/ck.pb") \
  > "$d/out.txt" 2>&1 || rc=$?
[ $rc = 1 ] || { cat "$d/out.txt"; fail "disk full: expected exit 1, got $rc"; }
grep -q "ck.pb.*: error: cannot write checkpoint: File too large" "$d/out.txt" ||
  { cat "$d/out.txt"; fail "disk full: no error naming the checkpoint"; }
cmp -s "$d/ck.pb" "$d/ck.before" && cmp -s "$d/ck.pb.state" "$d/state.before" ||
  fail "disk full: the previous checkpoint changed"
if ls "$d" | grep '\.tmp\.' > /dev/null; then fail "disk full: temporaries left: $(ls "$d")"; fi
"$work/tiny" train "${flags[@]}" --resume "$d/ck.pb" --checkpoint "$d/ck.pb" > /dev/null
cmp -s "$d/ck.pb" "$work/ref.pb" || fail "disk full: resuming afterwards gives other weights"
echo "disk full: $(grep -o 'error: .*' "$d/out.txt"); the checkpoint before intact"
