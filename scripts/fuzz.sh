#!/usr/bin/env bash
# Fuzzes every reader of untrusted bytes (tests/fuzz): installs clang-19 and
# libFuzzer from Debian (only what is missing), builds the fuzz targets with
# ASan + UBSan in build-fuzz/, then runs each for SECONDS (default 600) from
# the seed corpora and prints executions, coverage and findings.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Environment: FUZZ_BUILD_DIR (default build-fuzz), JOBS (targets run at once,
# default 2), WORK (corpora and findings, default FUZZ_BUILD_DIR/fuzz-work).
# Exit status 1 when a target found something: its input is in
# WORK/findings; fix the reader and add the input to tests/fuzz/regressions/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds=${1:-600}; shift || true
scripts_packages=(clang-19 libfuzzer-19-dev libclang-rt-19-dev libjpeg-turbo-progs)
missing=()
for p in "${scripts_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" != 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
"$ROOT/scripts/setup.sh" --deps
build="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
CC=clang-19 CXX=clang++-19 cmake -S "$ROOT" -B "$build" -DNINC_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j 2 --target fuzzers ninc
JOBS=${JOBS:-2} NINC="$build/bin/ninc" "$ROOT/tests/fuzz/run.sh" "$build" "$seconds" "$@"
