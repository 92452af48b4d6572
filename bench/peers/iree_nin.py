#!/usr/bin/env python3
"""IREE peer (inference): iree_nin.py MODEL.onnx BATCH SIZE THREADS [ITERS].
Imports the ONNX model with iree-import-onnx, compiles it for llvm-cpu with
the host's CPU (or $IREE_CPU, an LLVM CPU name such as x86-64-v3: AVX2 code
on an AVX-512 host) and the flags that were fastest on NiN (channels-last
convolutions, im2col; docs/performance.md), runs it with THREADS workers.
Prints 'iree VERSION infer IMAGES/S images/s latency MS ms peak_rss MIB'."""
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

if len(sys.argv) not in (5, 6):
    sys.exit(__doc__)
path, batch, size, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
iters = int(sys.argv[5]) if len(sys.argv) > 5 else 5
bindir = os.path.dirname(sys.executable)
import iree.compiler  # noqa: E402
import iree.runtime as rt  # noqa: E402

# Compiled once next to the model (MODEL.onnx.vmfb) and reused by later runs.
cpu = os.environ.get("IREE_CPU", "host")
mlir, vmfb = path + ".mlir", f"{path}.{cpu}.vmfb"
if not os.path.exists(vmfb):
    # The batch is fixed at export time (the ONNX model's input shape).
    subprocess.run([os.path.join(bindir, "iree-import-onnx"), path, "-o", mlir,
                    "--opset-version", "17"], check=True)
    compiled = subprocess.run([
        os.path.join(bindir, "iree-compile"), mlir, "-o", vmfb + ".tmp",
        "--iree-hal-target-backends=llvm-cpu", f"--iree-llvmcpu-target-cpu={cpu}",
        "--iree-preprocessing-pass-pipeline=builtin.module(util.func("
        "iree-preprocessing-convert-conv-to-channels-last))",
        "--iree-global-opt-use-im2col-for-convs"])
    if compiled.returncode != 0:
        sys.exit(f"iree_nin.py: iree-compile failed for target CPU '{cpu}' (IREE_CPU); "
                 "its message is above")
    os.rename(vmfb + ".tmp", vmfb)
config = rt.Config("local-task")
flags = [f"--task_topology_group_count={threads}"]
try:
    rt.flags.parse_flags(*flags)
    config = rt.Config("local-task")
except Exception:  # noqa: BLE001
    pass
ctx = rt.SystemContext(config=config)
with open(vmfb, "rb") as f:
    ctx.add_vm_module(rt.VmModule.copy_buffer(ctx.instance, f.read()))
# The entry point is the ONNX graph's name (torch_jit for PyTorch exports).
module = ctx.modules.module
names = [n for n in module.vm_module.function_names if "$" not in n and not n.startswith("__")]
fn = module[names[0]]
x = np.random.rand(batch, 1, size, size).astype(np.float32)
fn(x)
times = []
for _ in range(iters):
    t0 = time.perf_counter()
    np.asarray(fn(x))
    times.append(time.perf_counter() - t0)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
med = statistics.median(times)
from importlib.metadata import version  # noqa: E402

print(f"iree {version('iree-base-runtime')} "
      f"infer {batch / med:.1f} images/s latency {med * 1e3:.2f} ms peak_rss {rss:.0f} MiB")
