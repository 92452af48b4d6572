#!/usr/bin/env bash
# Feature extractors: a model without num_classes ends in a feature map.
#  1. `ninc inspect` says so; `--mode=train` is refused with a clear message;
#  2. the compiled program's `infer --input` equals `ninc run --input` (the
#     interpreter) on random inputs, saved in their NCHW shape; `infer` on
#     Fashion-MNIST saves features and prints no accuracy;
#  3. exported to ONNX and read back, it gives the same features.
#   features.sh BIN_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
bin=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }
model=$src/tests/integration/Inputs/nin-trunk.pbtxt
"$bin/ninc" inspect "$model" > "$work/inspect.txt"
grep -q "a feature extractor (no num_classes)" "$work/inspect.txt" || { cat "$work/inspect.txt"; fail "inspect"; }
if "$bin/ninc" compile "$model" --mode=train -o "$work/t" 2> "$work/err.txt"; then fail "--mode=train accepted"; fi
grep -q "error: --mode=train needs a classifier: model 'nin_trunk' has no num_classes" "$work/err.txt" ||
  { cat "$work/err.txt"; fail "message"; }
[ ! -e "$work/t" ] || fail "partial output"
"$bin/testtool" random-weights "$model" "$work/w.pb" 3
"$bin/ninc" compile "$model" --batch 8 -o "$work/trunk"
/usr/bin/python3 -c "import numpy as np; np.save('$work/x.npy', np.random.default_rng(1).random((11, 1, 32, 32), dtype=np.float32))" ||
  exit 77
"$work/trunk" infer --weights "$work/w.pb" --input "$work/x.npy" --save-logits "$work/got.npy" --quiet
"$bin/ninc" run "$model" --weights "$work/w.pb" --input "$work/x.npy" --save-logits "$work/ref.npy" --quiet
/usr/bin/python3 - "$work" <<'PY'
import sys, numpy as np
w = sys.argv[1]
got, ref = np.load(f"{w}/got.npy"), np.load(f"{w}/ref.npy")
assert got.shape == ref.shape == (11, 10, 2, 2), (got.shape, ref.shape)
err = np.abs(got - ref).max() / np.abs(ref).max()
assert err <= 1e-4, err
print(f"compiled features {got.shape} == interpreter's (max rel diff {err:.2e})")
PY
"$work/trunk" infer --weights "$work/w.pb" --limit 20 --save-logits "$work/fm.npy" > "$work/fm.txt"
grep -q "^features of 20 test images" "$work/fm.txt" || { cat "$work/fm.txt"; fail "infer on Fashion-MNIST"; }
if grep -q "accuracy" "$work/fm.txt"; then fail "accuracy printed for a feature extractor"; fi
if "$work/trunk" infer --limit 4 2> "$work/err.txt"; then fail "features without --save-logits"; fi
grep -q "is a feature extractor: give --save-logits" "$work/err.txt" || { cat "$work/err.txt"; fail "message"; }
"$bin/ninc" export "$model" --weights "$work/w.pb" -o "$work/trunk.onnx" > /dev/null
"$bin/ninc" run "$work/trunk.onnx" --input "$work/x.npy" --save-logits "$work/onnx.npy" --quiet
"$bin/testtool" compare "$work/onnx.npy" "$work/ref.npy" 1e-6 > /dev/null || fail "ONNX round trip"
echo "ONNX round trip: the same features"
echo PASS
