#!/usr/bin/env bash
# The GPU check (issue 5), on a machine with an NVIDIA GPU and its driver,
# from a folder made by tests/gpu/prepare.sh: each CUDA program's logits
# against the reference interpreter's (max|diff| <= 1e-4 * max|ref| + 1e-5,
# fp32), then the inference benchmark next to PyTorch on the same GPU when
# PyTorch is installed (PYTHON, default python3).
#   run.sh DIR
set -uo pipefail
dir=$(cd "${1:-.}" && pwd)
cd "$dir"
py=${PYTHON:-python3}
status=0
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
while read -r name batch limit; do
  ./"$name" infer --images data/t10k-images-idx3-ubyte.gz --labels data/t10k-labels-idx1-ubyte.gz \
      --limit "$limit" --weights "$name.weights.pb" --save-logits "$name.cuda.npy" --quiet || status=1
  "$py" compare_npy.py "$name.cuda.npy" "$name.interp.npy" "$name" || status=1
  ./"$name" bench --iters 20 --warmup 3 || status=1
done < models.txt
if "$py" -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  "$py" torch_nin.py --device cuda --batch 128 --size 224 --modes infer --no-compile \
      --variants "eager NCHW,eager channels-last" || true
else
  echo "PyTorch with CUDA not found with $py: no peer numbers (set PYTHON)"
fi
exit $status
