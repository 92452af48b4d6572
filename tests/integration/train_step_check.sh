#!/usr/bin/env bash
# The compiled training step (ninc_train_step of a --mode=train --emit=lib
# library) against the reference interpreter's trainStep, on real
# Fashion-MNIST batches from random (He-scaled) weights, step by step.
#   train_step_check.sh BIN_DIR WORK_DIR BATCH STEPS MODEL [EXTRA ninc compile FLAGS...]
# $CHECK_FLAGS go to train_step_check (e.g. --velocity-rtol 1e-3).
set -euo pipefail
bin=$1 work=$2 batch=$3 steps=$4 model=$5
shift 5
name=$(basename "$model" .pbtxt)
rm -rf "$work" && mkdir -p "$work"
"$bin/testtool" random-weights "$model" "$work/$name.weights.pb" 11
"$bin/ninc" compile "$model" --mode=train --emit=lib --batch "$batch" -o "$work/lib$name.so" "$@"
"$bin/train_step_check" "$work/lib$name.so" "$work/$name.weights.pb" "$steps" ${CHECK_FLAGS:-}
