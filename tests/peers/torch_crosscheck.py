#!/usr/bin/env python3
"""Cross-checks ninc's reference interpreter and data pipeline against PyTorch.

For a model of models/ (the d2l NiN and nin-tiny), draws He-scaled random
weights, writes them into a copy of the model file (text format), runs
`ninc run --weights ... --save-logits` on the first Fashion-MNIST test images,
and compares with PyTorch on the same images prepared independently (IDX read
with gzip + numpy, scaled to [0, 1], resized with F.interpolate bilinear,
align_corners=False). Agreement means the interpreter's conv/pool/GAP
semantics, parameter layout and image preprocessing all match PyTorch's.

  tests/peers/torch_crosscheck.py NINC_BIN MODELS_DIR DATA_DIR WORK_DIR
Exit 0 on agreement, 1 on a mismatch, 77 (skipped) without PyTorch.
"""
import gzip
import os
import subprocess
import sys

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError as e:
    print(f"SKIP: {e} (install python3-torch to run this cross-check)")
    sys.exit(77)

# (file, input size, NiN blocks (out, kernel, stride, pad), images, tolerance)
MODELS = [
    ("nin-tiny.pbtxt", 32, [(8, 5, 2, 0), (16, 3, 1, 1), (10, 3, 1, 1)], 64),
    ("nin.pbtxt", 224, [(96, 11, 4, 0), (256, 5, 1, 2), (384, 3, 1, 1), (10, 3, 1, 1)], 4),
]
REL_TOL = 1e-4  # max |ninc - torch| / max |torch|: fp32 with different summation orders


def torch_nin(blocks):
    """d2l's NiN: blocks, 3x3/2 max pool after all but the last, dropout, GAP."""
    layers, cin = [], 1
    for i, (cout, k, s, p) in enumerate(blocks):
        layers.append(nn.Sequential(nn.Conv2d(cin, cout, k, s, p), nn.ReLU(),
                                    nn.Conv2d(cout, cout, 1), nn.ReLU(),
                                    nn.Conv2d(cout, cout, 1), nn.ReLU()))
        if i < len(blocks) - 1:
            layers.append(nn.MaxPool2d(3, 2))
        if i == len(blocks) - 2:
            layers.append(nn.Dropout(0.5))
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers)


def read_idx_images(path, count):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    assert int.from_bytes(raw[0:4], "big") == 0x803, path
    rows, cols = int.from_bytes(raw[8:12], "big"), int.from_bytes(raw[12:16], "big")
    pixels = np.frombuffer(raw, np.uint8, count * rows * cols, offset=16)
    return pixels.reshape(count, 1, rows, cols)


def weights_text(net, blocks):
    """The model's parameters as ninc text-format `weights` entries."""
    out, convs = [], [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    for i, conv in enumerate(convs):
        name = f"block{i // 3 + 1}.{i % 3}"
        for suffix, t in (("weight", conv.weight), ("bias", conv.bias)):
            values = ", ".join(repr(float(v)) for v in t.detach().numpy().ravel())
            shape = ", ".join(str(d) for d in t.shape)
            out.append(f'weights {{ name: "{name}.{suffix}" shape: [{shape}] data: [{values}] }}')
    return "\n".join(out) + "\n"


def check(ninc, models_dir, data_dir, work, spec, size, blocks, count):
    torch.manual_seed(1)
    net = torch_nin(blocks).eval()
    for m in net.modules():
        if isinstance(m, nn.Conv2d):  # He-scaled so activations stay O(1)
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.uniform_(m.bias, -0.1, 0.1)
    model_path = os.path.join(models_dir, spec)
    weighted = os.path.join(work, spec.replace(".pbtxt", "-weights.pbtxt"))
    with open(model_path) as src, open(weighted, "w") as dst:
        dst.write(src.read() + weights_text(net, blocks))
    logits_path = os.path.join(work, spec + ".npy")
    subprocess.run([ninc, "run", model_path, "--weights", weighted, "--limit", str(count),
                    "--save-logits", logits_path, "--quiet"], check=True)
    ours = np.load(logits_path)

    images = read_idx_images(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz"), count)
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    with torch.no_grad():
        theirs = net(x).numpy()
    err = np.abs(ours - theirs).max() / np.abs(theirs).max()
    ok = ours.shape == theirs.shape and err < REL_TOL
    print(f"{'ok  ' if ok else 'FAIL'} {spec}: {count} images at {size}x{size}, logits "
          f"{ours.shape}, max|logit| {np.abs(theirs).max():.3g}, max rel diff {err:.2e} "
          f"(tolerance {REL_TOL:g}), argmax agreement {np.mean(ours.argmax(1) == theirs.argmax(1)):.3f}")
    return ok


def main():
    if len(sys.argv) != 5:
        print(__doc__)
        return 2
    ninc, models_dir, data_dir, work = sys.argv[1:]
    os.makedirs(work, exist_ok=True)
    torch.set_num_threads(2)
    print(f"PyTorch {torch.__version__}")
    results = [check(ninc, models_dir, data_dir, work, *m) for m in MODELS]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
