#!/usr/bin/python3
"""Seed corpora for the fuzz targets (tests/fuzz/run.sh): one folder per
target under OUT, from the repository's models and bad inputs plus small
valid files of each data format. Debian's python3 and numpy only; JPEG seeds
need cjpeg (libjpeg-turbo-progs) and are left out without it.

usage: make_seeds.py REPO OUT [NINC]   (NINC: a built ninc, for ONNX seeds)
"""
import glob, gzip, io, os, shutil, struct, subprocess, sys, zlib
import numpy as np


def put(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def png(pixels, channels=1):
    h, w = pixels.shape[:2]
    kind = {1: 0, 3: 2}[channels]
    raw = b"".join(b"\0" + pixels[y].tobytes() for y in range(h))
    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data +
                struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, kind, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def idx_pair(count, rows, cols):
    rng = np.random.default_rng(count)
    images = struct.pack(">IIII", 0x803, count, rows, cols) + rng.integers(
        0, 256, count * rows * cols, dtype=np.uint8).tobytes()
    labels = struct.pack(">II", 0x801, count) + rng.integers(0, 10, count, dtype=np.uint8).tobytes()
    return images, labels


def main():
    repo, out = sys.argv[1], sys.argv[2]
    ninc = sys.argv[3] if len(sys.argv) > 3 else None
    shutil.rmtree(out, ignore_errors=True)
    bad = os.path.join(repo, "tests", "bad-models")
    for f in glob.glob(os.path.join(repo, "models", "*.pbtxt")) + glob.glob(os.path.join(bad, "*.pbtxt")):
        put(os.path.join(out, "model-text"), os.path.basename(f), open(f, "rb").read())
        put(os.path.join(out, "compile"), os.path.basename(f), open(f, "rb").read())
    for f in glob.glob(os.path.join(repo, "models", "*.pb")) + glob.glob(os.path.join(bad, "*.pb")):
        put(os.path.join(out, "model-binary"), os.path.basename(f), open(f, "rb").read())
    if ninc:
        for m in ("nin-tiny", "nin-96"):
            target = os.path.join(out, "model-onnx", m + ".onnx")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            subprocess.run([ninc, "export", os.path.join(repo, "models", m + ".pbtxt"), "-o", target],
                           check=True)
    # IDX: [u32 images length][images][labels], raw and gzip.
    for count, rows, cols in ((2, 3, 3), (3, 28, 28)):
        images, labels = idx_pair(count, rows, cols)
        put(os.path.join(out, "idx"), f"raw{count}", struct.pack("<I", len(images)) + images + labels)
        gi, gl = gzip.compress(images), gzip.compress(labels)
        put(os.path.join(out, "idx"), f"gz{count}", struct.pack("<I", len(gi)) + gi + gl)
    # .npz and .npy
    rng = np.random.default_rng(0)
    for name, x in (("u8", rng.integers(0, 256, (3, 1, 4, 4), dtype=np.uint8)),
                    ("f32", rng.random((2, 4, 4, 1), dtype=np.float32)),
                    ("nhw", rng.integers(0, 256, (2, 5, 5), dtype=np.uint8))):
        y = np.arange(x.shape[0], dtype=np.int64) % 3
        for saver in (np.savez, np.savez_compressed):
            b = io.BytesIO()
            saver(b, x=x, y=y)
            put(os.path.join(out, "npz"), f"{name}-{saver.__name__}.npz", b.getvalue())
        b = io.BytesIO()
        np.save(b, x)
        put(os.path.join(out, "npy"), f"{name}.npy", b.getvalue())
    # Images: grey and RGB PNGs; JPEGs when cjpeg is there.
    grey = rng.integers(0, 256, (6, 5), dtype=np.uint8)
    rgb = rng.integers(0, 256, (4, 3, 3), dtype=np.uint8)
    put(os.path.join(out, "image"), "grey.png", png(grey))
    put(os.path.join(out, "image"), "rgb.png", png(rgb, 3))
    cjpeg = shutil.which("cjpeg")
    if cjpeg:
        for name, pixels, magic in (("grey", grey, b"P5"), ("rgb", rgb, b"P6")):
            pnm = magic + f"\n{pixels.shape[1]} {pixels.shape[0]}\n255\n".encode() + pixels.tobytes()
            for opts in ([], ["-progressive"]):
                jpg = subprocess.run([cjpeg] + opts, input=pnm, capture_output=True, check=True).stdout
                put(os.path.join(out, "image"), f"{name}{''.join(opts)}.jpg", jpg)
    # weights and state: written by fuzz-state itself (run.sh), the only
    # writer of a checkpoint for the fuzz descriptor.


if __name__ == "__main__":
    main()
