#!/usr/bin/env bash
# CPU benchmark against the peers a user would pick instead (not a test):
# the compiled d2l NiN-224 (inference and training step, fp32) next to
# Debian's PyTorch 1.13, PyTorch 2 (torch.compile), ONNX Runtime (inference,
# the model exported from PyTorch) and JAX/XLA, all on THREADS cores, in one
# run, alternating, median of ROUNDS; with this machine's FMA peak (measured
# by the compiled program) and each one's peak resident memory. Peers that
# are not installed are reported as such.
#   bench/cpu_peers.sh [BUILD_DIR=build] [BATCH=128] [THREADS=2] [ROUNDS=3] [PRECISION=fp32]
# Environment: NINC_CPU (e.g. x86-64-v3: ninc code for AVX2 on any host;
# default this host), LATENCY_BATCHES (default "1 8": inference latency rows,
# ms a batch, for ninc, ONNX Runtime, OpenVINO, IREE and torch.compile),
# ONEDNN_MAX_CPU_ISA (e.g. AVX2: caps PyTorch's and OpenVINO's oneDNN on an
# AVX-512 host; ONNX Runtime's MLAS and IREE cannot be capped so).
# bench/setup-peers.sh installs the pip peers.
# PRECISION bf16: ninc --precision=bf16 (vdpbf16ps), PyTorch autocast to
# bfloat16 (oneDNN's AVX512-BF16 kernels), JAX convolutions on bf16 operands
# with fp32 accumulation; the fp32 PyTorch 1.13 training step is measured
# too, for the ratio the issue asks for. ONNX Runtime has no CPU bf16
# convolutions (reported, not run).
# PEERS_PYTHON (default /work/peers-venv/bin/python) is the Python with the
# pip peers: python3 -m venv DIR && DIR/bin/pip install onnxruntime onnx jax
# [torch] (the benchmark's own tooling, not ninc's dependencies).
set -euo pipefail
build=${1:-build} batch=${2:-128} threads=${3:-2} rounds=${4:-3} precision=${5:-fp32}
case $precision in fp32|bf16) ;; *) echo "cpu_peers.sh: PRECISION must be fp32 or bf16, got '$precision'" >&2; exit 2 ;; esac
bf16=(); [ "$precision" = bf16 ] && bf16=(--bf16)
root=$(cd "$(dirname "$0")/.." && pwd)
peers=${PEERS_PYTHON:-/work/peers-venv/bin/python}
cores=$(seq -s, 0 $((threads - 1)))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

start=$(date +%s.%N)
cpuflag=(); [ -n "${NINC_CPU:-}" ] && cpuflag=(--cpu="$NINC_CPU")
"$build/bin/ninc" compile "$root/models/nin.pb" --batch "$batch" --threads "$threads" \
    --mode=train --precision="$precision" "${cpuflag[@]}" -o "$work/nin"
compile_s=$(echo "$(date +%s.%N) - $start" | bc)
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; NiN-224, batch $batch, $threads threads, $precision"
echo "# ninc compile time (inference + training step): ${compile_s} s"
"$work/nin" bench --profile --iters 1 --warmup 0 | sed -n 's/^FMA peak of this machine: /# FMA peak: /p'
echo "# ninc code for: $("$build/bin/ninc" compile "${cpuflag[@]}" --print-target | sed -n 's/^  cpu: *//p') ($("$build/bin/ninc" compile "${cpuflag[@]}" --print-target | sed -n 's/^  features: *//p'))"
if [ "${ONEDNN_MAX_CPU_ISA:-}" = AVX2 ]; then
  export IREE_CPU=${IREE_CPU:-x86-64-v3} XLA_FLAGS="${XLA_FLAGS:-} --xla_cpu_max_isa=AVX2"
  echo "# capped to AVX2: ONEDNN_MAX_CPU_ISA=AVX2 (PyTorch 1.13 and 2, OpenVINO), IREE for $IREE_CPU, XLA_FLAGS=$XLA_FLAGS (JAX); ONNX Runtime (MLAS) is not capped: it picks its kernels from cpuid"
else
  echo "# ONEDNN_MAX_CPU_ISA=${ONEDNN_MAX_CPU_ISA:-unset}; IREE for ${IREE_CPU:-host}; ONNX Runtime (MLAS) picks its kernels from cpuid"
fi

# rss CMD...: runs CMD, prints its output, then "rss KB" of its peak RSS.
rss() { /usr/bin/time -f "rss %M" "$@" 2>&1; }
have() { [ -x "$peers" ] && "$peers" -c "import $1" 2>/dev/null; }
ips() { sed -n 's/.* \([0-9.]*\) images\/s.*/\1/p' | head -1; }
mib() { awk '/^rss / {printf "%.0f", $2 / 1024}'; }
torch2=0
if have torch && "$peers" -c 'import torch, sys; sys.exit(int(torch.__version__.split(".")[0]) < 2)'; then
  torch2=1
fi
onnx_for() { # onnx_for BATCH: the model exported at that batch (once)
  [ -f "$work/nin-$1.onnx" ] || /usr/bin/python3 "$root/bench/peers/export_onnx.py" "$work/nin-$1.onnx" "$1" 224 > /dev/null
  echo "$work/nin-$1.onnx"
}
[ "$precision" = fp32 ] && onnx_for "$batch" > /dev/null

declare -A runs mem pct
add() { runs[$1]="${runs[$1]:-} $2"; mem[$1]=$3; }
# share MODE OUT: ninc's GFLOP/s as % of the FMA peak measured around that
# very run (bench --peak: the higher of the peaks before and after it).
share() { pct[$1]="${pct[$1]:-} $(sed -n 's/^compute: .* = \([0-9.]*\)% of the \([0-9.]*\) GFLOP.*/\1:\2/p' <<<"$2")"; }
for r in $(seq "$rounds"); do
  out=$(rss env OMP_NUM_THREADS="$threads" "$work/nin" bench --iters 3 --warmup 1 --peak)
  add "ninc infer" "$(ips <<<"$out")" "$(mib <<<"$out")"; share infer "$out"
  out=$(rss env OMP_NUM_THREADS="$threads" "$work/nin" bench --mode train --iters 2 --warmup 1 --peak)
  add "ninc train" "$(ips <<<"$out")" "$(mib <<<"$out")"; share train "$out"
  for mode in infer train; do
    out=$(rss /usr/bin/python3 "$root/bench/torch_nin.py" --device cpu --threads "$threads" \
            --batch "$batch" --size 224 --no-compile --warmup 1 --iters 2 --repeats 2 \
            --modes $mode --variants "eager NCHW" "${bf16[@]}")
    add "pytorch-1.13 $mode" "$(awk "/^$mode/ {print \$(NF-2)}" <<<"$out")" "$(mib <<<"$out")"
    if [ $torch2 = 1 ]; then
      out=$(rss "$peers" "$root/bench/torch_nin.py" --device cpu --threads "$threads" \
              --batch "$batch" --size 224 --warmup 1 --iters 2 --repeats 2 --modes $mode \
              --variants "torch.compile channels-last" "${bf16[@]}")
      add "pytorch-2 $mode" "$(awk "/^$mode/ {print \$(NF-2)}" <<<"$out")" "$(mib <<<"$out")"
    fi
    if have jax; then
      out=$(rss taskset -c "$cores" "$peers" "$root/bench/peers/jax_nin.py" $mode "$batch" 224 2 "$precision")
      add "jax $mode" "$(ips <<<"$out")" "$(mib <<<"$out")"
    fi
  done
  if [ "$precision" = bf16 ]; then
    out=$(rss /usr/bin/python3 "$root/bench/torch_nin.py" --device cpu --threads "$threads" \
            --batch "$batch" --size 224 --no-compile --warmup 1 --iters 2 --repeats 2 \
            --modes train --variants "eager NCHW")
    add "pytorch-1.13-fp32 train" "$(awk "/^train/ {print \$(NF-2)}" <<<"$out")" "$(mib <<<"$out")"
  fi
  if [ "$precision" = fp32 ] && have onnxruntime; then
    out=$(rss "$peers" "$root/bench/peers/ort_nin.py" "$(onnx_for "$batch")" "$batch" 224 "$threads" 3)
    add "onnxruntime infer" "$(ips <<<"$out")" "$(mib <<<"$out")"
  fi
  if [ "$precision" = fp32 ] && have openvino; then
    out=$(rss "$peers" "$root/bench/peers/openvino_nin.py" "$(onnx_for "$batch")" "$batch" 224 "$threads" 3)
    add "openvino infer" "$(ips <<<"$out")" "$(mib <<<"$out")"
  fi
  if [ "$precision" = fp32 ] && have iree.runtime; then
    out=$(rss taskset -c "$cores" "$peers" "$root/bench/peers/iree_nin.py" "$(onnx_for "$batch")" "$batch" 224 "$threads" 3)
    add "iree infer" "$(ips <<<"$out")" "$(mib <<<"$out")"
  fi
  echo "# round $r done"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
printf '%-22s %10s %12s %14s %10s\n' "" images/s "ninc / peer" "peak RSS MiB" "RSS ratio"
for mode in infer train; do
  n=$(median ${runs["ninc $mode"]})
  for peer in ninc pytorch-1.13 pytorch-2 onnxruntime openvino iree jax pytorch-1.13-fp32; do
    key="$peer $mode"
    if [ -z "${runs[$key]:-}" ]; then
      case $peer in
        pytorch-2) why="not installed (pip install torch into PEERS_PYTHON)" ;;
        pytorch-1.13-fp32) continue ;;
        onnxruntime|openvino|iree) [ $mode = train ] && continue
                     why="not installed"
                     [ "$precision" = bf16 ] && why="no bf16 convolutions on the CPU (not run)" ;;
        *) why="not installed" ;;
      esac
      printf '%-22s %s\n' "$key" "$why"
      continue
    fi
    v=$(median ${runs[$key]})
    printf '%-22s %10s %12s %14s %10s\n' "$key" "$v" "$(echo "scale=2; $n / $v" | bc)x" \
        "${mem[$key]}" "$(echo "scale=2; ${mem["ninc $mode"]} / ${mem[$key]}" | bc)x"
  done
done
echo
for mode in infer train; do
  p=$(printf '%s\n' ${pct[$mode]} | cut -d: -f1) g=$(printf '%s\n' ${pct[$mode]} | cut -d: -f2)
  echo "ninc $mode: $(median $p)% of the FMA peak (median of ${rounds} rounds, each against the peak measured around it: $(echo $g) GFLOP/s)"
done

# Inference latency at small batches (ms a batch, median of alternating
# rounds; each engine compiled or exported for that batch).
[ "$precision" = fp32 ] || exit 0
declare -A lat
for b in ${LATENCY_BATCHES:-1 8}; do
  "$build/bin/ninc" compile "$root/models/nin.pb" --batch "$b" --threads "$threads" \
      "${cpuflag[@]}" -o "$work/nin-b$b"
  onnx_for "$b" > /dev/null
done
ms() { sed -n 's/.*latency \([0-9.]*\) ms.*/\1/p' | head -1; }
for r in $(seq "$rounds"); do
  for b in ${LATENCY_BATCHES:-1 8}; do
    out=$(env OMP_NUM_THREADS="$threads" "$work/nin-b$b" bench --iters 30 --warmup 3)
    lat["ninc $b"]="${lat["ninc $b"]:-} $(sed -n 's/.*median \([0-9.]*\) ms.*/\1/p' <<<"$out")"
    have onnxruntime && lat["onnxruntime $b"]="${lat["onnxruntime $b"]:-} $("$peers" "$root/bench/peers/ort_nin.py" "$(onnx_for "$b")" "$b" 224 "$threads" 30 | ms)"
    have openvino && lat["openvino $b"]="${lat["openvino $b"]:-} $("$peers" "$root/bench/peers/openvino_nin.py" "$(onnx_for "$b")" "$b" 224 "$threads" 30 | ms)"
    have iree.runtime && lat["iree $b"]="${lat["iree $b"]:-} $(taskset -c "$cores" "$peers" "$root/bench/peers/iree_nin.py" "$(onnx_for "$b")" "$b" 224 "$threads" 30 | ms)"
    if [ $torch2 = 1 ]; then
      out=$("$peers" "$root/bench/torch_nin.py" --device cpu --threads "$threads" --batch "$b" \
              --size 224 --warmup 3 --iters 30 --repeats 1 --modes infer \
              --variants "torch.compile channels-last")
      lat["torch.compile $b"]="${lat["torch.compile $b"]:-} $(awk '/^infer/ {print $(NF-1)}' <<<"$out")"
    fi
  done
  echo "# latency round $r done"
done
echo
printf '%-16s %6s %12s %12s\n' "" batch "ms a batch" "peer / ninc"
for b in ${LATENCY_BATCHES:-1 8}; do
  n=$(median ${lat["ninc $b"]})
  for peer in ninc onnxruntime openvino iree torch.compile; do
    key="$peer $b"
    v=$(median ${lat[$key]:-})
    if [ -z "$v" ]; then printf '%-16s %6s %s\n' "$peer" "$b" "not installed or failed"; continue; fi
    printf '%-16s %6s %12s %12s\n' "$peer" "$b" "$v" "$(echo "scale=2; $v / $n" | bc)x faster"
  done
done