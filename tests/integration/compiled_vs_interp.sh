#!/usr/bin/env bash
# The compiled CPU program's logits against the reference interpreter's, on
# real Fashion-MNIST test images with random (He-scaled) weights:
# max|diff| <= 1e-4 * max|ref| + 1e-5 (issue 3; $COMPARE_RTOL replaces 1e-4).
#   compiled_vs_interp.sh BIN_DIR WORK_DIR BATCH LIMIT MODEL [EXTRA ninc compile FLAGS...]
set -euo pipefail
bin=$1 work=$2 batch=$3 limit=$4 model=$5
shift 5
name=$(basename "$model" .pbtxt)
rm -rf "$work" && mkdir -p "$work"
"$bin/testtool" random-weights "$model" "$work/$name.weights.pb" 11
"$bin/ninc" compile "$model" --batch "$batch" -o "$work/$name" "$@"
"$work/$name" infer --limit "$limit" --weights "$work/$name.weights.pb" \
    --save-logits "$work/$name.compiled.npy" --quiet
"$bin/ninc" run "$model" --weights "$work/$name.weights.pb" --limit "$limit" \
    --save-logits "$work/$name.interp.npy" --quiet
echo "$name (batch $batch, $limit images, flags: ${*:-none})"
"$bin/testtool" compare "$work/$name.compiled.npy" "$work/$name.interp.npy" ${COMPARE_RTOL:-1e-4}
