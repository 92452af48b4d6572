#!/usr/bin/env bash
# Installs the Debian packages ninc needs (only those missing), then configures and
# builds a Release tree in build/ with -j2.
#
#   scripts/setup.sh            install + configure + build
#   scripts/setup.sh --deps     install only
#
# openmpi-bin: mpirun for data-parallel training (docs/distributed.md); the
# programs load its libmpi.so.40 at run time, only when launched by it.
# PEERS are references for cross-checks and benchmarks only (the tests compare
# the reference interpreter with PyTorch); ninc never links them. Set
# NINC_NO_PEERS=1 to skip them (the cross-check test then reports "skipped").
#
# Environment: BUILD_DIR (default build), BUILD_TYPE (default Release), JOBS (default 2).
set -euo pipefail

PACKAGES=(
  cmake g++ make python3
  libmlir-19-dev mlir-19-tools llvm-19-dev llvm-19-tools
  libprotobuf-dev protobuf-compiler libonnx-dev
  libcli11-dev libgtest-dev zlib1g-dev libomp-19-dev libstb-dev
  dataset-fashion-mnist
  openmpi-bin
)
PEERS=(python3-torch python3-numpy python3-onnx)
if [ -z "${NINC_NO_PEERS:-}" ]; then
  PACKAGES+=("${PEERS[@]}")
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#PACKAGES[@]} packages already installed"
fi

[ "${1:-}" = "--deps" ] && exit 0

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}"
cmake --build "$BUILD_DIR" -j "${JOBS:-2}"
