#!/usr/bin/env bash
# The GPU check (issue 5), on a machine with an NVIDIA GPU and its driver,
# from a folder made by tests/gpu/prepare.sh: each CUDA program's logits
# against the reference interpreter's (max|diff| <= 1e-4 * max|ref| + 1e-5,
# fp32); one training step (the logits after it against those of the CPU
# program's step, 1e-3 relative); a short training run with the chapter's epoch line; the
# inference and training benchmarks; PyTorch on the same GPU when installed
# (PYTHON, default python3).
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
  ./"$name" train --epochs 1 --train-limit "$batch" --test-limit "$batch" --data-dir data \
      --checkpoint "$name.step1.pb" > /dev/null || status=1
  ./"$name" infer --weights "$name.step1.pb" --limit "$limit" --data-dir data \
      --save-logits "$name.step1.cuda.npy" --quiet || status=1
  # One step moves the logits through every gradient: a ReLU pre-activation
  # near zero can flip between summation orders (train_step_check.cpp), so 1e-3.
  "$py" compare_npy.py "$name.step1.cuda.npy" "$name.step1.npy" "$name after one step" 1e-3 || status=1
  ./"$name" train --epochs 1 --train-limit 12800 --test-limit 2000 --data-dir data || status=1
  ./"$name" bench --iters 20 --warmup 3 || status=1
  ./"$name" bench --mode train --iters 10 --warmup 2 || status=1
done < models.txt
if "$py" -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  "$py" torch_nin.py --device cuda --batch 128 --size 224 --modes infer,train || true
else
  echo "PyTorch with CUDA not found with $py: no peer numbers (set PYTHON)"
fi
exit $status
