#!/usr/bin/env bash
# Training through the C API, embedded weights and fine-tuning, end to end:
#  1. examples/train.c, built against a `--mode=train --emit=lib` library,
#     takes 3 SGD steps from random weights; each step's loss must equal,
#     digit for digit, the compiled step's that train_step_check runs on the
#     same batches (which checks it against the reference interpreter);
#  2. the model it saved reads in `ninc inspect`, and a compiled program
#     classifies with it (`infer --weights`) exactly as `ninc run` does;
#     and, exported to ONNX, gives ONNX Runtime and OpenVINO the same logits
#     (where the benchmark venv has them);
#  3. a program compiled from that saved model embeds its weights: `infer`
#     without --weights gives the same accuracy line, names the embedded
#     weights, and --no-embed-weights goes back to Xavier init;
#  4. fine-tuning: `train --weights W` on one batch of 32 reports the loss of
#     W on it (the C example's step 0: the same images, in another order,
#     no dropout in this model) within 2e-6;
#  5. bad calls give clear errors.
#   capi_train.sh BIN_DIR SOURCE_DIR WORK_DIR DATA_DIR
set -euo pipefail
bin=$1 src=$2 work=$3 data=$4
model=$src/tests/integration/Inputs/nin-learnable.pbtxt # batch 32, seed 3, no dropout
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }
"$bin/testtool" random-weights "$model" "$work/w.pb" 5

# 1. Three steps through the C API against the compiled step and the interpreter.
"$bin/ninc" compile "$model" --mode=train --emit=lib -o "$work/lib/libnin.so"
cc -Wall -Werror "$src/examples/train.c" -I "$work/lib" -I "$src/examples" -L "$work/lib" \
   -lnin -lz -Wl,-rpath,"$work/lib" -o "$work/train"
"$work/train" "$data" 3 "$work/trained.pb" "$work/w.pb" 0.05 0.9 1e-4 | tee "$work/capi.txt"
"$bin/train_step_check" "$work/lib/libnin.so" "$work/w.pb" 3 --seed 3 > "$work/check.txt" ||
  { cat "$work/check.txt"; fail "train_step_check"; }
sed -n 's/^step \([0-9]\): loss \([0-9.]*\)$/\1 \2/p' "$work/capi.txt" > "$work/got.txt"
sed -n 's/.* step \([0-9]\): loss \([0-9.]*\) (reference.*/\1 \2/p' "$work/check.txt" > "$work/want.txt"
[ "$(wc -l < "$work/got.txt")" = 3 ] || fail "expected 3 step lines from the C example"
diff "$work/got.txt" "$work/want.txt" || fail "the C API's losses differ from the compiled step's"
echo "3 C API steps equal the compiled step's (checked against the interpreter)"

# 2. The saved model: ninc inspect, infer --weights == ninc run.
"$bin/ninc" inspect "$work/trained.pb" > "$work/inspect.txt" || fail "ninc inspect trained.pb"
grep -q "nin_learnable" "$work/inspect.txt" || fail "inspect does not name the model"
"$bin/ninc" compile "$model" -o "$work/prog"
"$work/prog" infer --weights "$work/trained.pb" --limit 256 --save-logits "$work/prog.npy" \
  > "$work/infer.txt"
"$bin/ninc" run "$work/trained.pb" --limit 256 --quiet --save-logits "$work/ref.npy" > /dev/null
"$bin/testtool" argmax "$work/prog.npy" > "$work/prog-argmax.txt"
"$bin/testtool" argmax "$work/ref.npy" > "$work/ref-argmax.txt"
diff -q "$work/prog-argmax.txt" "$work/ref-argmax.txt" || fail "infer --weights differs from ninc run"
echo "saved model: inspect ok; $(tail -1 "$work/infer.txt")"

# The model ninc trained, exported to ONNX, in ONNX Runtime and OpenVINO (where the
# benchmark venv has it): the logits of `ninc run`.
"$bin/ninc" export "$work/trained.pb" -o "$work/trained.onnx" > /dev/null
rc=0; /usr/bin/python3 "$src/tests/peers/ort_check.py" "$work/trained.onnx" "$data" 256 "$work/ref.npy" || rc=$?
[ $rc = 0 ] || [ $rc = 77 ] || fail "ONNX Runtime or OpenVINO on the exported model"

# The same weights from a text model and from ONNX: the same classes.
"$bin/ninc" convert "$work/trained.pb" "$work/trained.pbtxt"
for w in trained.pbtxt trained.onnx; do
  "$work/prog" infer --weights "$work/$w" --limit 256 --save-logits "$work/$w.npy" > /dev/null
  "$bin/testtool" compare "$work/$w.npy" "$work/prog.npy" 1e-6 > /dev/null ||
    fail "infer --weights $w differs from the .pb"
done
echo "infer --weights .pbtxt and .onnx == .pb"
"$bin/ninc" export "$src/models/nin-tiny.pbtxt" -o "$work/other.onnx" > /dev/null
if "$work/prog" infer --weights "$work/other.onnx" --limit 16 2> "$work/err.txt"; then fail "another model's ONNX weights accepted"; fi
grep -q "other.onnx: error: weights '.*': expected .* values in the shape the model was compiled for\|other.onnx: error: the ONNX model has .* Conv nodes" "$work/err.txt" ||
  { cat "$work/err.txt"; fail "message for another model's ONNX weights"; }
echo "refused: $(cat "$work/err.txt")"

# 3. Embedded weights.
"$bin/ninc" compile "$work/trained.pb" -o "$work/embedded"
"$work/embedded" infer --limit 256 > "$work/embedded.txt"
grep -q "weights of trained.pb (embedded)" "$work/embedded.txt" || { cat "$work/embedded.txt"; fail "no embedded weights"; }
[ "$(tail -1 "$work/embedded.txt" | cut -d, -f1)" = "$(tail -1 "$work/infer.txt" | cut -d, -f1)" ] ||
  fail "embedded weights classify differently: $(tail -1 "$work/embedded.txt")"
"$bin/ninc" compile "$work/trained.pb" --no-embed-weights -o "$work/plain"
"$work/plain" infer --limit 16 > "$work/plain.txt"
grep -q "untrained: Xavier init" "$work/plain.txt" || fail "--no-embed-weights"
echo "embedded: $(tail -1 "$work/embedded.txt")"

# 4. Fine-tuning: the first step's loss from given weights.
"$bin/ninc" compile "$model" --mode=train -o "$work/trainer"
"$work/trainer" train --weights "$work/w.pb" --epochs 1 --train-limit 32 --test-limit 32 \
  --lr 0.05 --momentum 0.9 --weight-decay 1e-4 --metrics "$work/m.jsonl" > "$work/ft.txt"
grep -q "starting from weights from .*w.pb" "$work/ft.txt" || { cat "$work/ft.txt"; fail "fine-tuning header"; }
ft=$(sed -n 's/.*"loss": \([0-9.]*\),.*/\1/p' "$work/m.jsonl")
step0=$(sed -n 's/^0 //p' "$work/got.txt")
awk -v a="$ft" -v b="$step0" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 2e-6) }' ||
  fail "fine-tuning loss $ft, expected the C example's step 0 loss $step0"
echo "fine-tuning from w.pb: first loss $ft = C API step 0 $step0"
# A program compiled from a model with weights fine-tunes from them by default.
"$bin/ninc" compile "$work/trained.pb" --mode=train -o "$work/trainer2"
"$work/trainer2" train --epochs 1 --train-limit 32 --test-limit 32 > "$work/ft2.txt"
grep -q "starting from weights of trained.pb (embedded)" "$work/ft2.txt" ||
  fail "train does not start from the embedded weights"
"$work/trainer2" train --from-scratch --epochs 1 --train-limit 32 --test-limit 32 > "$work/ft3.txt"
if grep -q "starting from" "$work/ft3.txt"; then fail "--from-scratch starts from given weights"; fi

# 5. Errors.
if "$work/train" "$data" 1 "$work/x.pb" "$work/missing.pb" 2> "$work/err.txt"; then fail "missing weights accepted"; fi
grep -q "missing.pb: error: cannot open weights file" "$work/err.txt" || { cat "$work/err.txt"; fail "message"; }
if "$work/train" "$data" 1 "$work/x.pb" "$work/w.pb" -1 0 0 2> "$work/err.txt"; then fail "lr -1 accepted"; fi
grep -q "expected learning_rate > 0" "$work/err.txt" || { cat "$work/err.txt"; fail "message"; }
if "$work/train" "$data" 1 /nonexistent-dir/x.pb "$work/w.pb" 2> "$work/err.txt"; then fail "unwritable path accepted"; fi
grep -q "/nonexistent-dir/x.pb" "$work/err.txt" || { cat "$work/err.txt"; fail "save error does not name the file"; }
if "$work/trainer" train --weights "$work/w.pb" --from-scratch 2> "$work/err.txt"; then fail "--weights with --from-scratch"; fi
echo "PASS"
