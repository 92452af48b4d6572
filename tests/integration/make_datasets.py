#!/usr/bin/env python3
"""Makes the datasets tests/integration/datasets.sh trains on, from the first
Fashion-MNIST images (numpy and zlib only):
  train.npz / test.npz       x uint8 [N, 28, 28] (NCHW without C), y int64
  train-f32-nhwc.npz         x float32 [N, 28, 28, 1] (pixels / 255), y int32
  folder-train/, folder-test/  one sub-folder per class of grey PNGs
  rgb-train/, rgb-test/      the same as RGB PNGs (3 channels, colour tinted)
  bad/                       a truncated .npz, a mislabelled .npz, a corrupt PNG

  make_datasets.py DATA_DIR OUT_DIR TRAIN_COUNT TEST_COUNT
"""
import gzip
import os
import struct
import sys
import zlib

try:
    import numpy as np
except ImportError as e:
    print(f"SKIP: {e} (install python3-numpy)")
    sys.exit(77)

# Folder names sort in label order, so folder and .npz labels agree.
CLASSES = [f"{i}-{name}" for i, name in enumerate(
    ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
     "ankle-boot"])]


def idx(path, count, header, size):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, np.uint8, count * size, offset=header)


def png(path, pixels):
    """pixels: uint8 [H, W] (grey) or [H, W, 3] (RGB)."""
    h, w = pixels.shape[:2]
    colour = 2 if pixels.ndim == 3 else 0
    rows = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def folder(root, images, labels, rgb):
    for name in CLASSES:
        os.makedirs(os.path.join(root, name), exist_ok=True)
    for i, (img, label) in enumerate(zip(images, labels)):
        if rgb:  # a tint per channel so the channels differ
            img = np.stack([img, (img * 0.75).astype(np.uint8), 255 - img], axis=-1)
        png(os.path.join(root, CLASSES[label], f"{i:05d}.png"), img)


def main():
    data, out, n_train, n_test = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    os.makedirs(os.path.join(out, "bad"), exist_ok=True)
    xs, ys = {}, {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        xs[split] = idx(os.path.join(data, f"{prefix}-images-idx3-ubyte.gz"), n, 16, 784).reshape(n, 28, 28)
        ys[split] = idx(os.path.join(data, f"{prefix}-labels-idx1-ubyte.gz"), n, 8, 1).astype(np.int64)
        np.savez(os.path.join(out, f"{split}.npz"), x=xs[split], y=ys[split])
        folder(os.path.join(out, f"folder-{split}"), xs[split], ys[split], rgb=False)
        folder(os.path.join(out, f"rgb-{split}"), xs[split], ys[split], rgb=True)
    np.savez_compressed(os.path.join(out, "train-f32-nhwc.npz"),
                        x=(xs["train"].astype(np.float32) / 255.0)[..., None],
                        y=ys["train"].astype(np.int32))
    with open(os.path.join(out, "train.npz"), "rb") as f:
        whole = f.read()
    with open(os.path.join(out, "bad", "truncated.npz"), "wb") as f:
        f.write(whole[: len(whole) // 2])
    wrong = ys["train"].copy()
    wrong[5] = 12
    np.savez(os.path.join(out, "bad", "mislabelled.npz"), x=xs["train"], y=wrong)
    np.savez(os.path.join(out, "bad", "no-labels.npz"), x=xs["train"])
    bad = os.path.join(out, "bad", "folder")
    folder(bad, xs["test"][:20], ys["test"][:20], rgb=False)
    victim = os.path.join(bad, CLASSES[ys["test"][0]], "00000.png")
    with open(victim, "r+b") as f:
        f.seek(40)
        f.write(b"\xff" * 16)
    print(f"made {n_train} training and {n_test} test images in {out}")


if __name__ == "__main__":
    main()
