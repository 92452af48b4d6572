#!/usr/bin/env bash
# The C API end to end: `ninc compile --emit=lib`, examples/classify.c built
# against the produced library and header, run on 64 test images with random
# weights; its count of correct predictions must equal the reference
# interpreter's on the same images (the model takes 28x28, so the example's
# resize is the identity). Bad weights give a clear error and exit 1.
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
got=$("$work/classify" "$data" 64 "$work/w.pb" | tail -1)
echo "C API: $got"
ref=$("$bin/ninc" run "$model" --weights "$work/w.pb" --limit 64 --quiet)
echo "interpreter: $ref"
n_got=$(echo "$got" | sed -n 's/.*: \([0-9]*\)\/64 correct/\1/p')
n_ref=$(echo "$ref" | sed -n 's/^accuracy [0-9.]* (\([0-9]*\)\/64.*/\1/p')
[ -n "$n_got" ] && [ "$n_got" = "$n_ref" ] || { echo "FAIL: $n_got vs $n_ref correct"; exit 1; }
# A weights file that is not a model: exit 1, file named.
echo "garbage" > "$work/bad.pb"
if "$work/classify" "$data" 4 "$work/bad.pb" 2> "$work/err.txt"; then
  echo "FAIL: bad weights accepted"; exit 1
fi
grep -q "bad.pb: error: expected a binary ninc model" "$work/err.txt" || { cat "$work/err.txt"; exit 1; }
echo "PASS"
