#!/usr/bin/env python3
"""PyTorch peer for ninc's benchmarks: d2l 7.3's NiN, same model and batch.

Measures inference and training-step throughput (images/s) of the chapter's
NiN in PyTorch eager (optionally channels-last) and with torch.compile, on CPU
or CUDA, and prints one line per configuration. ninc's own benchmark runs this
in the same session to print ratios; run alone it records the peer's numbers.

  python3 bench/torch_nin.py --device cuda --batch 128 --size 224
  python3 bench/torch_nin.py --device cpu --threads 2 --batch 128 --size 224
"""
import argparse
import contextlib
import statistics
import time

import torch
from torch import nn


def nin_block(cin, cout, k, s, p, n1x1=2):
    layers = [nn.Conv2d(cin, cout, k, s, p), nn.ReLU()]
    for _ in range(n1x1):
        layers += [nn.Conv2d(cout, cout, 1), nn.ReLU()]
    return nn.Sequential(*layers)


def d2l_nin(n1x1=2):
    """The chapter's net; parameter names match ninc's (block1.0.weight ~ 0.0.weight)."""
    return nn.Sequential(
        nin_block(1, 96, 11, 4, 0, n1x1), nn.MaxPool2d(3, 2),
        nin_block(96, 256, 5, 1, 2, n1x1), nn.MaxPool2d(3, 2),
        nin_block(256, 384, 3, 1, 1, n1x1), nn.MaxPool2d(3, 2),
        nn.Dropout(0.5),
        nin_block(384, 10, 3, 1, 1, n1x1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten())


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, warmup, iters, repeats):
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        sync(device)
        times.append((time.perf_counter() - t0) / iters)
    return statistics.median(times)


def run(args, mode, compiled, channels_last):
    device = args.device
    torch.manual_seed(0)
    model = d2l_nin().to(device)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = torch.rand(args.batch, 1, args.size, args.size, device=device).to(memory_format=fmt)
    y = torch.randint(0, 10, (args.batch,), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    net = torch.compile(model) if compiled else model

    amp = (lambda: torch.autocast(device_type=device, dtype=torch.bfloat16)) if args.bf16 \
        else contextlib.nullcontext
    if mode == "infer":
        model.eval()

        def step():
            with torch.no_grad(), amp():
                net(x)
    else:
        model.train()

        def step():
            opt.zero_grad(set_to_none=True)
            with amp():
                loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()

    sec = timed(step, device, args.warmup, args.iters, args.repeats)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        step()
        sync(device)
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = float("nan")
    return args.batch / sec, sec, peak


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tf32", action="store_true", help="allow TF32 in cuDNN/cuBLAS")
    ap.add_argument("--bf16", action="store_true",
                    help="mixed precision: autocast to bfloat16 (fp32 master weights)")
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    ap.add_argument("--modes", default="infer,train", help="comma-separated: infer, train")
    ap.add_argument("--variants", default="", help="comma-separated variant names (default: all)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cuda.matmul.allow_tf32 = args.tf32

    dev = torch.cuda.get_device_name() if args.device == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"# torch {torch.__version__}, {dev}, NiN {args.size}x{args.size}, batch {args.batch}, "
          f"{'bf16 autocast' if args.bf16 else 'tf32' if args.tf32 else 'fp32'}; median of {args.repeats} x {args.iters} steps")
    print(f"{'mode':6} {'variant':26} {'images/s':>10} {'ms/step':>9} {'peak MiB':>9}")
    variants = [("eager NCHW", False, False), ("eager channels-last", False, True)]
    if not args.no_compile:
        variants.append(("torch.compile channels-last", True, True))
    if args.variants:
        wanted = args.variants.split(",")
        variants = [v for v in variants if v[0] in wanted]
    for mode in args.modes.split(","):
        for name, compiled, cl in variants:
            try:
                ips, sec, peak = run(args, mode, compiled, cl)
                print(f"{mode:6} {name:26} {ips:10.1f} {sec * 1e3:9.2f} {peak:9.0f}", flush=True)
            except Exception as e:  # a peer that fails is reported, not dropped
                print(f"{mode:6} {name:26} failed: {type(e).__name__}: {str(e).splitlines()[0][:120]}")


if __name__ == "__main__":
    main()
