#!/usr/bin/env bash
# The compiled program's datasets besides Fashion-MNIST's IDX files:
#  1. a uint8 .npz of the first 256/128 Fashion-MNIST images trains to the
#     same epoch lines, digit for digit, as the IDX files with --train-limit
#     256 --test-limit 128 (same images, same order, same seed); the float32
#     NHWC .npz trains too;
#  2. a folder of class sub-folders of PNGs: the header lists the classes,
#     train prints the chapter's epoch lines, infer gives the accuracy of the
#     same images from the .npz; 259 images (the last batch short) train;
#  3. a 3-channel model trains on RGB PNG folders, with --mean/--std;
#  4. corrupt, truncated, mislabelled data: clear errors naming the file.
#   datasets.sh BIN_DIR SOURCE_DIR WORK_DIR DATA_DIR
set -euo pipefail
bin=$1 src=$2 work=$3 data=$4
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }
rc=0; /usr/bin/python3 "$src/tests/integration/make_datasets.py" "$data" "$work/d" 256 128 || rc=$?
[ $rc = 0 ] || exit $rc # 77: skipped without numpy
model=$src/models/nin-tiny.pbtxt # 1x32x32, 10 classes, batch 16 below
"$bin/ninc" compile "$model" --mode=train --batch 16 -o "$work/tiny"
flags=(--epochs 2 --lr 0.05 --momentum 0.9)

# 1. .npz == IDX.
"$work/tiny" train "${flags[@]}" --train-limit 256 --test-limit 128 > "$work/idx.txt"
"$work/tiny" train "${flags[@]}" --train-data "$work/d/train.npz" --test-data "$work/d/test.npz" > "$work/npz.txt"
grep '^epoch' "$work/idx.txt" | sed 's/, time.*//' > "$work/idx-epochs.txt"
grep '^epoch' "$work/npz.txt" | sed 's/, time.*//' > "$work/npz-epochs.txt"
[ "$(wc -l < "$work/npz-epochs.txt")" = 2 ] || { cat "$work/npz.txt"; fail "no epoch lines from the .npz"; }
diff "$work/idx-epochs.txt" "$work/npz-epochs.txt" || fail "the .npz trains differently from the same IDX images"
echo "npz == IDX: $(tail -1 "$work/npz-epochs.txt")"
"$work/tiny" train --epochs 1 --train-data "$work/d/train-f32-nhwc.npz" --test-data "$work/d/test.npz" > "$work/f32.txt"
"$work/tiny" train --epochs 1 --train-limit 256 --test-limit 128 > "$work/idx1.txt"
grep '^epoch 1' "$work/idx1.txt" | sed 's/, time.*//' > "$work/want1.txt"
grep '^epoch 1' "$work/f32.txt" | sed 's/, time.*//' > "$work/got1.txt"
diff "$work/want1.txt" "$work/got1.txt" || fail "float32 NHWC .npz (pixels/255) differs from the uint8 images"
echo "float32 NHWC npz == IDX: $(cat "$work/got1.txt")"

# 2. An image folder, and a short last batch (256 + 3 images).
"$work/tiny" train "${flags[@]}" --train-data "$work/d/folder-train" --test-data "$work/d/folder-test" > "$work/folder.txt"
grep -q "^classes: 0-t-shirt, 1-trouser, 2-pullover, 3-dress, 4-coat, 5-sandal, 6-shirt, 7-sneaker, 8-bag, 9-ankle-boot$" "$work/folder.txt" ||
  { cat "$work/folder.txt"; fail "the header does not list the classes"; }
[ "$(grep -c '^epoch' "$work/folder.txt")" = 2 ] || fail "no epoch lines from the image folder"
echo "folder: $(grep '^epoch 2' "$work/folder.txt")"
# One set of weights classifies the test images alike from either format
# (folder labels follow the sorted class names, which sort in label order).
"$bin/ninc" compile "$model" --batch 16 -o "$work/tiny-infer"
"$work/tiny-infer" infer --test-data "$work/d/test.npz" > "$work/acc-npz.txt"
"$work/tiny-infer" infer --test-data "$work/d/folder-test" > "$work/acc-folder.txt"
[ "$(tail -1 "$work/acc-npz.txt" | cut -d' ' -f2,3)" = "$(tail -1 "$work/acc-folder.txt" | cut -d' ' -f2,3)" ] ||
  fail "accuracy differs: $(tail -1 "$work/acc-npz.txt") / $(tail -1 "$work/acc-folder.txt")"
echo "infer: npz $(tail -1 "$work/acc-npz.txt" | cut -d, -f1), folder $(tail -1 "$work/acc-folder.txt" | cut -d, -f1)"
# A short last batch: 259 images at batch 16 are 16 full batches and one of 3.
/usr/bin/python3 - "$work/d" <<'PY'
import sys, numpy as np
d = sys.argv[1]
a, b = np.load(f"{d}/train.npz"), np.load(f"{d}/test.npz")
np.savez(f"{d}/train-259.npz", x=np.concatenate([a["x"], b["x"][:3]]), y=np.concatenate([a["y"], b["y"][:3]]))
PY
"$work/tiny" train --epochs 1 --train-data "$work/d/train-259.npz" --test-data "$work/d/test.npz" > "$work/short.txt"
grep -q "17 batches of 16 (259 training images per epoch; the last batch has 3)" "$work/short.txt" ||
  { cat "$work/short.txt"; fail "the short last batch"; }
echo "short last batch: $(grep '^epoch 1' "$work/short.txt")"

# 3. RGB images for a 3-channel model, normalised.
"$bin/ninc" compile "$src/tests/lit/Inputs/three-channels.pbtxt" --mode=train -o "$work/rgb"
"$work/rgb" train --epochs 1 --train-data "$work/d/rgb-train" --test-data "$work/d/rgb-test" \
  --mean 0.3,0.2,0.7 --std 0.3,0.25,0.3 > "$work/rgb.txt"
grep -q '^epoch 1, loss' "$work/rgb.txt" || { cat "$work/rgb.txt"; fail "3-channel training"; }
echo "rgb: $(grep '^epoch 1' "$work/rgb.txt")"

# 4. Bad data.
expect_error() { # expect_error PATTERN CMD...
  local pattern=$1; shift
  if "$@" > "$work/out.txt" 2> "$work/err.txt"; then fail "accepted: $*"; fi
  grep -q -- "$pattern" "$work/err.txt" || { cat "$work/err.txt"; fail "expected '$pattern'"; }
  echo "refused: $(head -1 "$work/err.txt")"
}
expect_error "truncated.npz: error: not a zip archive" "$work/tiny" train --train-data "$work/d/bad/truncated.npz" --test-data "$work/d/test.npz"
expect_error "mislabelled.npz: error: label 5 is 12; the model has 10 classes" "$work/tiny" train --train-data "$work/d/bad/mislabelled.npz" --test-data "$work/d/test.npz"
expect_error "no-labels.npz: error: expected arrays 'x' (images) and 'y' (labels), found no 'y'" "$work/tiny-infer" infer --test-data "$work/d/bad/no-labels.npz"
expect_error "00000.png: error: " "$work/tiny-infer" infer --test-data "$work/d/bad/folder"
mkdir -p "$work/empty"
expect_error "empty: error: expected one sub-folder per class, 10 for this model, found 0" "$work/tiny-infer" infer --test-data "$work/empty"
expect_error "'x' has shape (256, 28, 28); the model takes 3 channel(s)" "$work/rgb" train --train-data "$work/d/train.npz" --test-data "$work/d/test.npz"
# Absurd sizes in a header are refused before anything is allocated, with the size.
/usr/bin/python3 - "$work/d/bad" <<'PY'
import os, struct, sys, zipfile, zlib
d = sys.argv[1]
def npy(shape, data=b"\0" * 64):
    h = "{'descr': '|u1', 'fortran_order': False, 'shape': %r, }" % (shape,)
    h += " " * (63 - (10 + len(h)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + data
with zipfile.ZipFile(f"{d}/huge.npz", "w") as z:
    z.writestr("x.npy", npy((1000000, 100000, 100000)))
    z.writestr("y.npy", npy((64,)))
def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)) +
       chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))
for c in range(10):
    os.makedirs(f"{d}/huge-folder/c{c}", exist_ok=True)
    open(f"{d}/huge-folder/c{c}/0.png", "wb").write(png)
PY
expect_error "huge.npz: error: 'x': shape (1000000, 100000, 100000) of '|u1' is 8.9 PiB; the array holds 64 bytes of data" "$work/tiny-infer" infer --test-data "$work/d/bad/huge.npz"
expect_error "0.png: error: a 100000x100000 image (9.3 GiB of pixels a channel); at most 4096 a side" "$work/tiny-infer" infer --test-data "$work/d/bad/huge-folder"
expect_error "--train-data and --test-data go together" "$work/tiny" train --train-data "$work/d/train.npz"
expect_error "--mean and --std need 1 value(s) each" "$work/tiny-infer" infer --test-data "$work/d/test.npz" --mean 0.1,0.2 --std 1,1
echo PASS
