#!/usr/bin/env bash
# Creates the CPU benchmark's own Python environment with the engines a user
# would pick instead of ninc (benchmark tooling only: ninc never links them):
# PyTorch 2 (eager and torch.compile), ONNX Runtime, OpenVINO, IREE
# (iree-base-compiler + iree-base-runtime, with iree-import-onnx) and JAX, plus
# onnx to export the model. Idempotent; PyPI's torch pulls ~3 GB of CUDA
# wheels even for CPU use.
#   bench/setup-peers.sh [VENV=/work/peers-venv]
# bench/cpu_peers.sh finds the venv through PEERS_PYTHON (default
# /work/peers-venv/bin/python).
set -euo pipefail
venv=${1:-/work/peers-venv}
python=${PEERS_BASE_PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
  echo "setup-peers: creating $venv with $($python --version)"
  "$python" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --upgrade pip
# Each engine on its own line, so one that fails to install (a wheel missing
# for this Python) does not stop the others; cpu_peers.sh reports it missing.
status=0
for pkg in "torch" "onnx onnxruntime" "openvino" "iree-base-compiler[onnx] iree-base-runtime" "jax[cpu]"; do
  echo "setup-peers: pip install $pkg"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet $pkg || { echo "setup-peers: could not install $pkg" >&2; status=1; }
done
"$venv/bin/python" - <<'PY'
import importlib
for name in ["torch", "onnxruntime", "openvino", "iree.compiler", "iree.runtime", "jax", "onnx"]:
    try:
        m = importlib.import_module(name)
        print(f"  {name:15s} {getattr(m, '__version__', '(installed)')}")
    except Exception as e:
        print(f"  {name:15s} missing ({type(e).__name__}: {e})")
PY
exit $status
