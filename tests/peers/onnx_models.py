#!/usr/bin/env python3
"""ONNX in and out, against PyTorch, onnx.checker and ONNX Runtime.

1. Import: NiNs built in PyTorch (Debian's 1.13) with He-scaled random
   weights and exported by torch.onnx.export (opset 13, symbolic batch):
   the d2l NiN at 224, a variant with one 1x1 conv per block (exercise 2) at
   96, and one with average pooling, dropout and Squeeze instead of Flatten
   at 64. `ninc compile X.onnx` makes a program whose logits on real
   Fashion-MNIST test images (resized as d2l does) equal PyTorch's
   (max|diff| <= 1e-4 max|ref|); `ninc check` passes on the smallest.
2. Export: `ninc export` of that imported model passes onnx.checker, reads
   back (`ninc compile` of the export) to the same logits, and, where the
   benchmark venv (PEERS_PYTHON, default /work/peers-venv/bin/python) has
   ONNX Runtime, ONNX Runtime gives them too.

  tests/peers/onnx_models.py BIN_DIR DATA_DIR WORK_DIR
Exit 0 on agreement, 1 on a mismatch, 77 (skipped) without PyTorch or onnx.
"""
import gzip
import os
import subprocess
import sys

try:
    import numpy as np
    import onnx
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError as e:
    print(f"SKIP: {e} (install python3-torch and python3-onnx to run this test)")
    sys.exit(77)

REL_TOL = 1e-4


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from torch_nin import d2l_nin, nin_block  # noqa: E402  (the benchmark's PyTorch NiN)


class SqueezeHead(nn.Module):
    def forward(self, x):
        return x.squeeze(3).squeeze(2)


def pools_variant():
    """Average pooling with padding (count_include_pad, PyTorch's default),
    dropout, global average pooling and a Squeeze to [N, C]."""
    return nn.Sequential(
        nin_block(1, 16, 5, 2, 2, 1), nn.AvgPool2d(3, 2, 1),
        nin_block(16, 32, 3, 1, 1, 2), nn.MaxPool2d(2, 2),
        nn.Dropout(0.3),
        nin_block(32, 10, 3, 1, 1, 1),
        nn.AdaptiveAvgPool2d(1), SqueezeHead())


# (name, net, input size, images)
MODELS = [
    ("d2l-nin-224", lambda: d2l_nin(2), 224, 4),
    ("nin-one-1x1-96", lambda: d2l_nin(1), 96, 16),
    ("nin-pools-64", pools_variant, 64, 32),
]


def read_idx_images(path, count):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    rows, cols = int.from_bytes(raw[8:12], "big"), int.from_bytes(raw[12:16], "big")
    return np.frombuffer(raw, np.uint8, count * rows * cols, offset=16).reshape(count, 1, rows, cols)


def compare(what, ours, theirs):
    err = np.abs(ours - theirs).max() / np.abs(theirs).max()
    ok = ours.shape == theirs.shape and err <= REL_TOL
    print(f"{'ok  ' if ok else 'FAIL'} {what}: logits {ours.shape}, max|logit| "
          f"{np.abs(theirs).max():.3g}, max rel diff {err:.2e} (tolerance {REL_TOL:g})", flush=True)
    return ok


def ninc_logits(bin_dir, model, count, work, name):
    prog, out = os.path.join(work, name), os.path.join(work, name + ".npy")
    subprocess.run([os.path.join(bin_dir, "ninc"), "compile", model, "--batch", str(count),
                    "-o", prog], check=True)
    subprocess.run([prog, "infer", "--limit", str(count), "--save-logits", out, "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    return np.load(out)


def onnxruntime_logits(model, x):
    peers = os.environ.get("PEERS_PYTHON", "/work/peers-venv/bin/python")
    if not os.access(peers, os.X_OK):
        return None
    script = ("import sys, numpy as np, onnxruntime as ort\n"
              "s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n"
              "np.save(sys.argv[3], s.run(None, {s.get_inputs()[0].name: np.load(sys.argv[2])})[0])\n")
    xin, out = model + ".x.npy", model + ".ort.npy"
    np.save(xin, x)
    r = subprocess.run([peers, "-c", script, model, xin, out], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"     (ONNX Runtime not usable from {peers}: {r.stderr.strip()[-200:]})")
        return None
    return np.load(out)


def check(bin_dir, data_dir, work, name, make, size, count):
    torch.manual_seed(1)
    net = make().eval()
    for m in net.modules():
        if isinstance(m, nn.Conv2d):  # He-scaled so activations stay O(1)
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.uniform_(m.bias, -0.1, 0.1)
    path = os.path.join(work, name + ".onnx")
    torch.onnx.export(net, torch.zeros(1, 1, size, size), path, opset_version=13,
                      input_names=["images"], output_names=["logits"],
                      dynamic_axes={"images": {0: "N"}, "logits": {0: "N"}})
    images = read_idx_images(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz"), count)
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    with torch.no_grad():
        theirs = net(x).numpy()
    ok = compare(f"{name}: ninc compile (PyTorch's ONNX) vs PyTorch, {count} images",
                 ninc_logits(bin_dir, path, count, work, name), theirs)

    exported = os.path.join(work, name + ".export.onnx")
    subprocess.run([os.path.join(bin_dir, "ninc"), "export", path, "-o", exported], check=True,
                   stdout=subprocess.DEVNULL)
    onnx.checker.check_model(onnx.load(exported))
    print(f"ok   {name}: ninc export passes onnx.checker (onnx {onnx.__version__})")
    ok &= compare(f"{name}: ninc compile (ninc's export) vs PyTorch",
                  ninc_logits(bin_dir, exported, count, work, name + "-export"), theirs)
    if name == "nin-one-1x1-96":  # PyTorch's ONNX as --weights of ninc's own exercise-2 model
        prog = os.path.join(work, "nin-ex2-96")
        out = prog + ".npy"
        subprocess.run([os.path.join(bin_dir, "ninc"), "compile", os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "nin-ex2-96.pbtxt"),
            "--batch", str(count), "-o", prog], check=True)
        subprocess.run([prog, "infer", "--weights", path, "--limit", str(count), "--save-logits",
                        out, "--quiet"], check=True, stdout=subprocess.DEVNULL)
        ok &= compare(f"{name}: models/nin-ex2-96.pbtxt with --weights {name}.onnx vs PyTorch",
                      np.load(out), theirs)
    if name == "nin-pools-64":  # convert to ninc's text schema, inspect, compile that
        text = os.path.join(work, name + ".pbtxt")
        ninc = os.path.join(bin_dir, "ninc")
        subprocess.run([ninc, "convert", path, text], check=True)
        inspect = subprocess.run([ninc, "inspect", path], check=True, capture_output=True, text=True)
        print(f"ok   {name}: ninc inspect of the .onnx: {inspect.stdout.splitlines()[1]}")
        ok &= compare(f"{name}: ninc convert to .pbtxt, compiled, vs PyTorch",
                      ninc_logits(bin_dir, text, count, work, name + "-text"), theirs)
    ort = onnxruntime_logits(exported, x.numpy())
    if ort is not None:
        ok &= compare(f"{name}: ONNX Runtime (ninc's export) vs PyTorch", ort, theirs)
    return ok


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    bin_dir, data_dir, work = sys.argv[1:]
    os.makedirs(work, exist_ok=True)
    torch.set_num_threads(2)
    print(f"PyTorch {torch.__version__}, onnx {onnx.__version__}")
    results = [check(bin_dir, data_dir, work, *m) for m in MODELS]
    small = os.path.join(work, MODELS[-1][0] + ".onnx")
    r = subprocess.run([os.path.join(bin_dir, "ninc"), "check", small, "--images", "8"],
                       capture_output=True, text=True)
    print(r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip())
    results.append(r.returncode == 0)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
