#!/usr/bin/env python3
"""compare_npy.py A.npy REF.npy NAME [RTOL=1e-4]: max|a - ref| <= RTOL * max|ref| + 1e-5
(fp32 logits vs the reference). Pure Python: runs where NumPy is absent."""
import ast
import struct
import sys


def load(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        sys.exit(f"{path}: error: {e.strerror}")
    if data[:6] != b"\x93NUMPY":
        sys.exit(f"{path}: error: not a .npy file")
    major = data[6]
    hlen_size = 2 if major == 1 else 4
    hlen = int.from_bytes(data[8:8 + hlen_size], "little")
    header = ast.literal_eval(data[8 + hlen_size:8 + hlen_size + hlen].decode("latin1"))
    if header["descr"] != "<f4" or header["fortran_order"]:
        sys.exit(f"{path}: error: expected little-endian float32 in C order")
    body = data[8 + hlen_size + hlen:]
    return header["shape"], struct.unpack(f"<{len(body) // 4}f", body)


def main():
    a_path, ref_path, name = sys.argv[1:4]
    rtol = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-4
    shape_a, a = load(a_path)
    shape_r, ref = load(ref_path)
    if shape_a != shape_r:
        sys.exit(f"{name}: FAIL: shapes differ: {shape_a} vs {shape_r}")
    diff = max(abs(x - y) for x, y in zip(a, ref))
    scale = max(abs(y) for y in ref)
    tol = rtol * scale + 1e-5
    ok = diff <= tol and all(x == x for x in a)
    print(f"{name}: {'PASS' if ok else 'FAIL'}: {len(a)} values, max|diff| {diff:.3g}, "
          f"max|ref| {scale:.3g}, tolerance {tol:.3g}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
