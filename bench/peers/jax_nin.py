#!/usr/bin/env python3
"""JAX/XLA peer: the chapter's NiN (NHWC, Xavier init, dropout 0.5, SGD lr
0.1), jitted inference and training step on the CPU.
  jax_nin.py MODE BATCH SIZE [ITERS [PRECISION]]   (MODE: infer | train;
  PRECISION: fp32 | bf16 - convolutions on bf16 operands with fp32
  accumulation (preferred_element_type), fp32 master weights)
Prints 'jax VERSION MODE IMAGES/S images/s peak_rss MIB'. Threads: XLA's CPU
backend uses the cores it is given (run under taskset to pin them)."""
import resource
import statistics
import sys
import time

import jax
import jax.numpy as jnp
from jax import lax

if len(sys.argv) not in (4, 5, 6) or sys.argv[1] not in ('infer', 'train') or \
        (len(sys.argv) > 5 and sys.argv[5] not in ('fp32', 'bf16')):
    sys.exit(__doc__)
mode, batch, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
iters = int(sys.argv[4]) if len(sys.argv) > 4 else 3
bf16 = len(sys.argv) > 5 and sys.argv[5] == 'bf16'
BLOCKS = [(1, 96, 11, 4, 0), (96, 256, 5, 1, 2), (256, 384, 3, 1, 1), (384, 10, 3, 1, 1)]


def init(key):
    params = []
    for cin, cout, k, _, _ in BLOCKS:
        for kk, ci in ((k, cin), (1, cout), (1, cout)):
            key, sub = jax.random.split(key)
            fan_in, fan_out = ci * kk * kk, cout * kk * kk
            bound = (6.0 / (fan_in + fan_out)) ** 0.5
            params.append((jax.random.uniform(sub, (kk, kk, ci, cout), jnp.float32, -bound, bound),
                           jnp.zeros((cout,), jnp.float32)))
    return params


def conv(x, w, b, stride, pad):
    if bf16:
        x, w = x.astype(jnp.bfloat16), w.astype(jnp.bfloat16)
    y = lax.conv_general_dilated(x, w, (stride, stride), [(pad, pad), (pad, pad)],
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                 preferred_element_type=jnp.float32)
    return jax.nn.relu(y + b)


def pool(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 3, 3, 1), (1, 2, 2, 1), "VALID")


def forward(params, x, key, train):
    i = 0
    for n, (_, _, _, s, p) in enumerate(BLOCKS):
        if n == 3 and train:
            keep = jax.random.bernoulli(key, 0.5, x.shape)
            x = jnp.where(keep, x / 0.5, 0.0)
        x = conv(x, *params[i], s, p)
        x = conv(x, *params[i + 1], 1, 0)
        x = conv(x, *params[i + 2], 1, 0)
        i += 3
        if n < 3:
            x = pool(x)
    return jnp.mean(x, axis=(1, 2))


def loss_fn(params, x, y, key):
    logits = forward(params, x, key, True)
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))


@jax.jit
def train_step(params, x, y, key):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y, key)
    return jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads), loss


@jax.jit
def infer(params, x):
    return forward(params, x, None, False)


key = jax.random.PRNGKey(0)
params = init(key)
x = jax.random.uniform(key, (batch, size, size, 1), jnp.float32)
y = jnp.arange(batch) % 10
if mode == "train":
    run = lambda: train_step(params, x, y, key)[1].block_until_ready()  # noqa: E731
else:
    run = lambda: infer(params, x).block_until_ready()  # noqa: E731
run()
times = []
for _ in range(iters):
    t0 = time.perf_counter()
    run()
    times.append(time.perf_counter() - t0)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"jax {jax.__version__} {mode} {'bf16 ' if bf16 else ''}{batch / statistics.median(times):.1f} images/s "
      f"peak_rss {rss:.0f} MiB")
