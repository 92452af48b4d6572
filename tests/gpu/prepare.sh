#!/usr/bin/env bash
# Builds, on this machine (MLIR, protobuf, CUDA toolkit), everything the GPU
# check needs into one folder that runs on any CUDA machine with only the
# NVIDIA driver: CUDA programs (inference and training step) for nin-tiny and
# the d2l NiN-224, random weights, the reference interpreter's logits for the
# first test images, the logits after one training step of the CPU program
# (which tests/integration checks against the interpreter's step), and the
# Fashion-MNIST files; the d2l NiN also with --precision=tf32 and bf16 (the
# same references, looser tolerances). Then, on the GPU machine: tests/gpu/run.sh DIR.
#   tests/gpu/prepare.sh [BUILD_DIR=build] [OUT=out/gpu] [GPU_ARCH=sm_90]
set -euo pipefail
build=${1:-build} out=${2:-out/gpu} arch=${3:-sm_90}
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ ! -x "$build/bin/ninc" ] || [ ! -x "$build/bin/testtool" ]; then
  echo "prepare.sh: error: $build/bin/ninc not found (build first: scripts/setup.sh)" >&2
  exit 2
fi
data=${NINC_DATA_DIR:-/usr/share/datasets/fashion-mnist}
rm -rf "$out" && mkdir -p "$out/data"
cp "$data"/*-ubyte.gz "$out/data/"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# name model batch images precision
while read -r name model batch limit precision; do
  "$build/bin/ninc" compile "$root/$model" --target=cuda --gpu-arch="$arch" --batch "$batch" \
      --precision="$precision" --mode=train -o "$out/$name"
  # The references, once per model (the tf32/bf16 programs share fp32's):
  # one SGD step from the seeded init on the first batch, then the logits.
  if [ "$precision" = fp32 ]; then
    "$build/bin/ninc" compile "$root/$model" --batch "$batch" --mode=train -o "$work/$name"
    "$work/$name" train --epochs 1 --train-limit "$batch" --test-limit "$batch" --data-dir "$data" \
        --checkpoint "$work/$name.step1.pb" > /dev/null
    "$work/$name" infer --weights "$work/$name.step1.pb" --limit "$limit" --data-dir "$data" \
        --save-logits "$out/$name.step1.npy" --quiet
    "$build/bin/testtool" random-weights "$root/$model" "$out/$name.weights.pb" 11
    "$build/bin/ninc" run "$root/$model" --weights "$out/$name.weights.pb" --limit "$limit" \
        --save-logits "$out/$name.interp.npy" --quiet
  fi
  echo "$name $batch $limit $precision" >> "$out/models.txt"
done <<EOF2
nin-tiny models/nin-tiny.pbtxt 16 256 fp32
nin-224 models/nin.pb 128 256 fp32
nin-224-tf32 models/nin.pb 128 256 tf32
nin-224-bf16 models/nin.pb 128 256 bf16
EOF2
cp "$root/tests/gpu/run.sh" "$root/tests/gpu/compare_npy.py" "$root/bench/torch_nin.py" "$out/"
echo "prepared $out ($(du -sh "$out" | cut -f1)) for $arch: run tests/gpu/run.sh $out on the GPU machine"
