#!/usr/bin/env bash
# End to end through the foundation: train a small NiN with the reference
# interpreter on real Fashion-MNIST, save it as a self-contained model file,
# then classify 1000 test images with `ninc run --weights` and require an
# accuracy far above chance (0.1). Also checks the saved file is a valid model
# that inspect and validate read.
#   train_and_classify.sh BIN_DIR MODEL WORK_DIR
set -euo pipefail
bin=$1 model=$2 work=$3
min_accuracy=0.35   # 300 steps reach ~0.5 on this model; chance is 0.1
rm -rf "$work" && mkdir -p "$work"

"$bin/interp_train" "$model" "$work/trained.pb" 300
"$bin/ninc" validate "$work/trained.pb" | grep -q "with weights"
"$bin/ninc" inspect "$work/trained.pb" > /dev/null

line=$("$bin/ninc" run "$model" --weights "$work/trained.pb" --limit 1000 --quiet)
echo "$line"
acc=$(echo "$line" | sed -n 's/^accuracy \([0-9.]*\) .*/\1/p')
[ -n "$acc" ] || { echo "FAIL: no accuracy in: $line"; exit 1; }
if python3 -c "import sys; sys.exit(0 if $acc >= $min_accuracy else 1)"; then
  echo "PASS: accuracy $acc >= $min_accuracy"
else
  echo "FAIL: accuracy $acc < $min_accuracy"
  exit 1
fi
