#!/usr/bin/env bash
# A program compiled for an ISA this host lacks must refuse to run with a
# message naming the CPU it was compiled for and what is missing (exit 1),
# not die of SIGILL; the C API's create fails the same way. The CPU is
# chosen from what this host lacks: AVX-512 (x86-64-v4), else AVX512-BF16
# (cooperlake), else AMX (sapphirerapids); exit 77 (skipped) when it has all.
#   isa_mismatch.sh BIN_DIR MODEL WORK_DIR
set -uo pipefail
bin=$1 model=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
features=$("$bin/ninc" compile --print-target | sed -n 's/^ *features: *//p')
has() { [[ " $features " == *" $1 "* ]]; }
if ! has avx512f; then cpu=x86-64-v4 lacks=avx512f
elif ! has avx512bf16; then cpu=cooperlake lacks=avx512bf16
elif ! has amx-tile; then cpu=sapphirerapids lacks=amx-tile
else echo "this host has every ISA extension the test knows; skipped"; exit 77
fi
echo "host features: $features; compiling for $cpu (lacks $lacks)"
"$bin/ninc" compile "$model" --batch 2 --cpu="$cpu" -o "$work/prog" || exit 1
"$work/prog" infer --limit 2 >"$work/out.txt" 2>&1
rc=$?
cat "$work/out.txt"
if [ "$rc" -ne 1 ]; then
  echo "FAIL: expected exit 1, got $rc"
  exit 1
fi
grep -q "compiled for CPU '$cpu'" "$work/out.txt" && grep -q "lacks.*$lacks" "$work/out.txt" || {
  echo "FAIL: the message does not name the CPU '$cpu' and the missing $lacks"
  exit 1
}
echo "PASS: refused with exit 1"
