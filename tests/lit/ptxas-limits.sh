#!/usr/bin/env bash
# ptxas-limits.sh PTXAS ARCH MAX_REGISTERS MAX_SPILL_BYTES DIR [PTXAS_FLAGS...]:
# assembles every DIR/*.ptx with `ptxas -v PTXAS_FLAGS` and fails if one does not assemble, uses more
# registers than MAX_REGISTERS or spills more than MAX_SPILL_BYTES (stores).
# Prints one summary line.
set -uo pipefail
ptxas=$1 arch=$2 maxreg=$3 maxspill=$4 dir=$5
shift 5
n=0 worst_reg=0 worst_spill=0 bad=0
for f in "$dir"/*.ptx; do
  out=$("$ptxas" -v -arch="$arch" "$@" "$f" -o /dev/null 2>&1) || { echo "ptxas failed on $f:"; echo "$out"; bad=1; continue; }
  reg=$(sed -n 's/.*Used \([0-9]*\) registers.*/\1/p' <<<"$out" | sort -n | tail -1)
  spill=$(sed -n 's/.* \([0-9]*\) bytes spill stores.*/\1/p' <<<"$out" | sort -n | tail -1)
  reg=${reg:-0} spill=${spill:-0}
  n=$((n + 1))
  ((reg > worst_reg)) && worst_reg=$reg
  ((spill > worst_spill)) && worst_spill=$spill
  if ((reg > maxreg || spill > maxspill)); then
    echo "$(basename "$f"): $reg registers, $spill bytes spilled (limits $maxreg, $maxspill)"
    bad=1
  fi
done
echo "$n kernels assembled for $arch: at most $worst_reg registers, $worst_spill bytes spilled"
exit $bad
