#!/usr/bin/env bash
# The C API end to end: `ninc compile --emit=lib`, examples/classify.c built
# against the produced library and header, run on 64 test images with random
# weights; its prediction for every image must equal the reference
# interpreter's (the model takes 28x28, so the example's resize is the
# identity). Bad weights give a clear error and exit 1.
#   capi.sh BIN_DIR SOURCE_DIR WORK_DIR DATA_DIR
set -euo pipefail
bin=$1 src=$2 work=$3 data=$4
model=$src/tests/integration/Inputs/nin-learnable.pbtxt
rm -rf "$work" && mkdir -p "$work"
"$bin/testtool" random-weights "$model" "$work/w.pb" 5
"$bin/ninc" compile "$model" --batch 64 --emit=lib -o "$work/lib/libnin.so"
test -f "$work/lib/ninc.h"
cc -Wall -Werror "$src/examples/classify.c" -I "$work/lib" -L "$work/lib" -lnin -lz \
   -Wl,-rpath,"$work/lib" -o "$work/classify"
"$work/classify" "$data" 64 "$work/w.pb" > "$work/capi.txt"
tail -1 "$work/capi.txt"
"$bin/ninc" run "$model" --weights "$work/w.pb" --limit 64 --quiet --save-logits "$work/ref.npy"
classes=(t-shirt trouser pullover dress coat sandal shirt sneaker bag "ankle boot")
"$bin/testtool" argmax "$work/ref.npy" | while read -r k; do echo "${classes[$k]}"; done > "$work/ref.txt"
sed -n 's/^image [0-9]*: \(.*\) (label .*/\1/p' "$work/capi.txt" > "$work/got.txt"
[ "$(wc -l < "$work/got.txt")" = 64 ] || { echo "FAIL: expected 64 predictions"; exit 1; }
diff "$work/got.txt" "$work/ref.txt" || { echo "FAIL: predictions differ"; exit 1; }
echo "64 predictions equal the interpreter's"
# A weights file that is not a model: exit 1, file named.
echo "garbage" > "$work/bad.pb"
if "$work/classify" "$data" 4 "$work/bad.pb" 2> "$work/err.txt"; then
  echo "FAIL: bad weights accepted"; exit 1
fi
grep -q "bad.pb: error: expected a binary ninc model" "$work/err.txt" || { cat "$work/err.txt"; exit 1; }
echo "PASS"
