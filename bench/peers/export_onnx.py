#!/usr/bin/env python3
"""Exports the chapter's NiN (bench/torch_nin.py's d2l_nin, Xavier init) to
ONNX for the ONNX Runtime peer: export_onnx.py OUT.onnx BATCH SIZE."""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torch_nin import d2l_nin  # noqa: E402

if len(sys.argv) != 4:
    sys.exit(__doc__)
out, batch, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
model = d2l_nin().eval()
x = torch.rand(batch, 1, size, size)
torch.onnx.export(model, x, out, opset_version=17, input_names=["x"], output_names=["logits"])
print(f"exported {out} (torch {torch.__version__})")
