#!/usr/bin/env python3
"""ONNX Runtime peer (inference): ort_nin.py MODEL.onnx BATCH SIZE THREADS
[ITERS]. Prints 'onnxruntime VERSION infer IMAGES/S images/s peak_rss MIB'."""
import resource
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

if len(sys.argv) not in (5, 6):
    sys.exit(__doc__)
path, batch, size, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
iters = int(sys.argv[5]) if len(sys.argv) > 5 else 5
opts = ort.SessionOptions()
opts.intra_op_num_threads = threads
opts.inter_op_num_threads = 1
opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
x = np.random.rand(batch, 1, size, size).astype(np.float32)
sess.run(None, {"x": x})
times = []
for _ in range(iters):
    t0 = time.perf_counter()
    sess.run(None, {"x": x})
    times.append(time.perf_counter() - t0)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
med = statistics.median(times)
print(f"onnxruntime {ort.__version__} infer {batch / med:.1f} images/s "
      f"latency {med * 1e3:.2f} ms peak_rss {rss:.0f} MiB")
