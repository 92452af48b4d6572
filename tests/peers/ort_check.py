#!/usr/bin/env python3
"""ONNX Runtime (and OpenVINO, where installed) on an ONNX model written by
`ninc export`: its logits on the
first COUNT Fashion-MNIST test images (28x28, pixels / 255, no resize) must
equal REF.npy (max|diff| <= 1e-4 max|ref|). ONNX Runtime comes from the
benchmark venv (PEERS_PYTHON, default /work/peers-venv/bin/python).

  tests/peers/ort_check.py MODEL.onnx DATA_DIR COUNT REF.npy
Exit 0 on agreement, 1 on a mismatch, 77 (skipped) without ONNX Runtime.
"""
import gzip
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError as e:
    print(f"SKIP: {e}")
    sys.exit(77)

model, data, count, ref = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
peers = os.environ.get("PEERS_PYTHON", "/work/peers-venv/bin/python")
if not os.access(peers, os.X_OK) or subprocess.run([peers, "-c", "import onnxruntime"],
                                                   capture_output=True).returncode != 0:
    print(f"SKIP: no ONNX Runtime in {peers} (bench/setup-peers.sh installs it)")
    sys.exit(77)
with gzip.open(os.path.join(data, "t10k-images-idx3-ubyte.gz"), "rb") as f:
    raw = f.read()
x = np.frombuffer(raw, np.uint8, count * 784, offset=16).reshape(count, 1, 28, 28)
with tempfile.TemporaryDirectory() as tmp:
    np.save(os.path.join(tmp, "x.npy"), x.astype(np.float32) / 255.0)
    ort = ("import sys, numpy as np, onnxruntime as ort\n"
           "s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n"
           "np.save(sys.argv[3], s.run(None, {s.get_inputs()[0].name: np.load(sys.argv[2])})[0])\n"
           "print('onnxruntime', ort.__version__)\n")
    # OpenVINO too, where the venv has it (it reads the ONNX file itself), in
    # f32: on CPUs with AVX512-BF16 or AMX it would run bf16 by default (a
    # Zen 4: 5e-3 from ninc's logits).
    ov = ("import sys, numpy as np, openvino as ov\n"
          "m = ov.Core().compile_model(sys.argv[1], 'CPU', {'INFERENCE_PRECISION_HINT': 'f32'})\n"
          "np.save(sys.argv[3], m(np.load(sys.argv[2]))[0])\n"
          "print('openvino', ov.__version__)\n")
    ok = True
    for peer, script in (("ONNX Runtime", ort), ("OpenVINO", ov)):
        if peer == "OpenVINO" and subprocess.run([peers, "-c", "import openvino"],
                                                 capture_output=True).returncode != 0:
            continue
        r = subprocess.run([peers, "-c", script, model, os.path.join(tmp, "x.npy"),
                            os.path.join(tmp, "y.npy")], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL: {peer} refused {model}: {r.stderr.strip()[-400:]}")
            sys.exit(1)
        got, want = np.load(os.path.join(tmp, "y.npy")), np.load(ref)
        err = np.abs(got - want).max() / np.abs(want).max()
        good = got.shape == want.shape and err <= 1e-4
        print(f"{'ok  ' if good else 'FAIL'} {r.stdout.strip().splitlines()[-1]} on "
              f"{os.path.basename(model)}: logits {got.shape}, max rel diff {err:.2e} "
              "(tolerance 1e-4)")
        ok &= good
sys.exit(0 if ok else 1)
