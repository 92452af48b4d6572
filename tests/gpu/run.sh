#!/usr/bin/env bash
# The GPU check (issue 5), on a machine with an NVIDIA GPU and its driver,
# from a folder made by tests/gpu/prepare.sh (nothing here needs MLIR,
# protobuf or the CUDA toolkit). For each program: its logits against the
# reference interpreter's (max|diff| <= rtol * max|ref| + 1e-5; rtol 1e-4
# fp32, 1e-2 tf32, 3e-2 bf16); one training step (the logits after it
# against those of the CPU program's step: 1e-3, 2e-2, 5e-2); a short
# training run with the chapter's epoch line; then the benchmark: each
# program's inference and training images/s next to PyTorch eager
# channels-last and torch.compile at the same precision (fp32, TF32, BF16
# autocast), in this one script, with the ratios. PYTHON (default python3)
# runs PyTorch; FULL=1 also runs the chapter's protocol at 224x224 (lr 0.1,
# batch 128, Xavier, 5 epochs).
#   run.sh DIR
set -uo pipefail
if [ ! -f "${1:-.}/models.txt" ]; then
  echo "run.sh: error: ${1:-.} is not a folder made by tests/gpu/prepare.sh (no models.txt)" >&2
  exit 2
fi
dir=$(cd "${1:-.}" && pwd)
cd "$dir"
py=${PYTHON:-python3}
status=0
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
rtol() { case $1 in fp32) echo "$2" ;; tf32) echo "$3" ;; bf16) echo "$4" ;; esac; }
weights_of() { echo "${1%-tf32}" | sed 's/-bf16$//'; }
while read -r name batch limit precision; do
  ref=$(weights_of "$name")
  echo "== $name ($precision)"
  ./"$name" infer --images data/t10k-images-idx3-ubyte.gz --labels data/t10k-labels-idx1-ubyte.gz \
      --limit "$limit" --weights "$ref.weights.pb" --save-logits "$name.cuda.npy" --quiet || status=1
  "$py" compare_npy.py "$name.cuda.npy" "$ref.interp.npy" "$name" "$(rtol "$precision" 1e-4 1e-2 3e-2)" || status=1
  ./"$name" train --epochs 1 --train-limit "$batch" --test-limit "$batch" --data-dir data \
      --checkpoint "$name.step1.pb" > /dev/null || status=1
  ./"$name" infer --weights "$name.step1.pb" --limit "$limit" --data-dir data \
      --save-logits "$name.step1.cuda.npy" --quiet || status=1
  # One step moves the logits through every gradient: a ReLU pre-activation
  # near zero can flip between summation orders (train_step_check.cpp), so 1e-3.
  "$py" compare_npy.py "$name.step1.cuda.npy" "$ref.step1.npy" "$name after one step" \
      "$(rtol "$precision" 1e-3 2e-2 5e-2)" || status=1
  ./"$name" train --epochs 1 --train-limit 12800 --test-limit 2000 --data-dir data || status=1
done < models.txt

if [ "${FULL:-0}" = 1 ]; then
  echo "== the chapter's protocol: NiN 224x224, lr 0.1, batch 128, Xavier, 5 epochs"
  ./nin-224 train --epochs 5 --lr 0.1 --data-dir data || status=1
fi

# The benchmark: ninc and PyTorch alternating in this script, per precision.
have_torch=0
"$py" -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null && have_torch=1
[ $have_torch = 1 ] || echo "PyTorch with CUDA not found with $py: no peer numbers (set PYTHON)"
ips() { sed -n 's/.*, \([0-9.]*\) images\/s.*/\1/p'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }
echo "== benchmark (batch 128, 224x224): images/s, ratio ninc / peer"
printf '%-5s %-5s %10s %16s %16s %8s %8s\n' mode prec ninc "eager ch-last" "torch.compile" vs-eager vs-comp
while read -r name batch limit precision; do
  [ "$batch" = 128 ] || continue
  flag=""
  [ "$precision" = tf32 ] && flag="--tf32"
  [ "$precision" = bf16 ] && flag="--bf16"
  for mode in infer train; do
    if [ $mode = infer ]; then
      n=$(./"$name" bench --iters 20 --warmup 3 | ips)
    else
      n=$(./"$name" bench --mode train --iters 10 --warmup 2 | ips)
    fi
    e=- c=-
    if [ $have_torch = 1 ]; then
      out=$("$py" torch_nin.py --device cuda --batch 128 --size 224 --modes $mode $flag \
              --variants "eager channels-last,torch.compile channels-last" 2>&1)
      e=$(awk '/eager channels-last/ {print $(NF-2)}' <<<"$out")
      c=$(awk '/torch.compile channels-last/ {print $(NF-2)}' <<<"$out")
    fi
    printf '%-5s %-5s %10s %16s %16s %8s %8s\n' $mode "$precision" "${n:-fail}" "${e:-fail}" \
        "${c:-fail}" "$(ratio "${n:-0}" "${e:-0}")" "$(ratio "${n:-0}" "${c:-0}")"
    [ -n "$n" ] || status=1
  done
done < models.txt
exit $status
