#!/usr/bin/env python3
"""OpenVINO peer (inference): openvino_nin.py MODEL.onnx BATCH SIZE THREADS [ITERS] [HINT].
HINT: LATENCY (default) or THROUGHPUT. fp32 inference precision (OpenVINO would
otherwise pick bf16 on CPUs with AVX512-BF16/AMX). Prints 'openvino VERSION
infer IMAGES/S images/s latency MS ms isa ISA peak_rss MIB'."""
import resource
import statistics
import sys
import time

import numpy as np
import openvino as ov

if len(sys.argv) not in (5, 6, 7):
    sys.exit(__doc__)
path, batch, size, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
iters = int(sys.argv[5]) if len(sys.argv) > 5 else 5
hint = sys.argv[6] if len(sys.argv) > 6 else "LATENCY"
core = ov.Core()
model = core.read_model(path)
model.reshape({model.inputs[0].get_any_name(): [batch, 1, size, size]})
compiled = core.compile_model(model, "CPU", {
    "INFERENCE_NUM_THREADS": threads,
    "PERFORMANCE_HINT": hint,
    "INFERENCE_PRECISION_HINT": "f32",
    "NUM_STREAMS": 1,
})
request = compiled.create_infer_request()
x = np.random.rand(batch, 1, size, size).astype(np.float32)
request.infer({0: x})
times = []
for _ in range(iters):
    t0 = time.perf_counter()
    request.infer({0: x})
    times.append(time.perf_counter() - t0)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
med = statistics.median(times)
try:
    isa = ",".join(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
except Exception:  # noqa: BLE001
    isa = "?"
print(f"openvino {ov.__version__.split('-')[0]} infer {batch / med:.1f} images/s "
      f"latency {med * 1e3:.2f} ms isa {isa} peak_rss {rss:.0f} MiB")
