//===- compiler/reference/Ops.h - The reference ops' loop nests -*- C++ -*-===//
//
// Every op of the reference interpreter is a plain loop nest over NCHW
// row-major tensors. Convolutions use one formulation for forward, input
// gradient and weight gradient: for each kernel tap (kh, kw), walk the output
// rows/columns whose tap lands inside the input (forEachTapRow), so no inner
// loop tests bounds. Sums are accumulated in double. Parallel loops write
// disjoint outputs and each output is summed in a fixed order, so results are
// identical for any thread count.
//
// Internal to compiler/reference: Interpreter.cpp runs these layer by layer.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_REFERENCE_OPS_H
#define NINC_COMPILER_REFERENCE_OPS_H

#include "compiler/reference/Interpreter.h"
#include "runtime/support/Random.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace ninc::reference::ops {

/// A 4-D shape; [N, F] tensors are viewed as [N, F, 1, 1].
struct Dims {
  int64_t n, c, h, w;
  int64_t plane() const { return h * w; }
  int64_t planes() const { return n * c; }
};

inline Dims dimsOf(const Shape &s) {
  return s.size() == 4 ? Dims{s[0], s[1], s[2], s[3]} : Dims{s[0], s[1], 1, 1};
}

/// Loops with fewer inner iterations than this run on one thread: starting a
/// parallel region costs microseconds, and when another process holds a core
/// a region can wait a whole scheduler time slice for its second thread,
/// which made tiny models (the gradient checks) 1000x slower.
constexpr int64_t kMinParallelWork = 1 << 15;

//===----------------------------------------------------------------------===//
// Convolution
//===----------------------------------------------------------------------===//

/// Sizes of one convolution.
struct ConvGeometry {
  Dims in, out;
  HW kernel, stride, padding;
  /// Multiply-adds of the forward pass (and of each gradient).
  int64_t macs() const { return out.planes() * out.plane() * in.c * kernel.h * kernel.w; }
};

/// The outputs [lo, hi) along one axis whose kernel tap `k` reads inside the
/// input, i.e. 0 <= out * stride - pad + k < inSize.
inline std::pair<int64_t, int64_t> tapRange(int64_t outSize, int64_t inSize, int64_t stride,
                                            int64_t pad, int64_t k) {
  int64_t first = pad - k; // out * stride >= first
  int64_t lo = first > 0 ? (first + stride - 1) / stride : 0;
  int64_t last = inSize - 1 + pad - k; // out * stride <= last
  int64_t hi = last < 0 ? 0 : std::min(outSize, last / stride + 1);
  return {lo, std::max(lo, hi)};
}

/// Calls row(outBase, inBase, lo, hi) for every output row that kernel tap
/// (kh, kw) reads inside the input: output column ow in [lo, hi) of that row
/// is plane offset outBase + ow and reads input plane offset
/// inBase + ow * stride.w (always inside the plane for ow in [lo, hi)).
template <typename RowFn>
void forEachTapRow(const ConvGeometry &g, int64_t kh, int64_t kw, RowFn &&row) {
  auto [ohLo, ohHi] = tapRange(g.out.h, g.in.h, g.stride.h, g.padding.h, kh);
  auto [owLo, owHi] = tapRange(g.out.w, g.in.w, g.stride.w, g.padding.w, kw);
  if (owLo == owHi)
    return;
  for (int64_t oh = ohLo; oh < ohHi; ++oh)
    row(oh * g.out.w, (oh * g.stride.h - g.padding.h + kh) * g.in.w + kw - g.padding.w, owLo,
        owHi);
}

/// y = conv(x, w) + b, then ReLU if `relu`. Parallel over (image, output
/// channel): each iteration owns one output plane.
template <typename T>
void convForward(const ConvGeometry &g, bool relu, const T *x, const T *w, const T *b, T *y) {
  const int64_t taps = g.kernel.h * g.kernel.w, sw = g.stride.w;
#pragma omp parallel if (g.macs() >= kMinParallelWork)
  {
    std::vector<double> acc(g.out.plane());
#pragma omp for collapse(2) schedule(static)
    for (int64_t n = 0; n < g.out.n; ++n)
      for (int64_t o = 0; o < g.out.c; ++o) {
        std::fill(acc.begin(), acc.end(), b ? double(b[o]) : 0.0);
        for (int64_t i = 0; i < g.in.c; ++i) {
          const T *xp = x + (n * g.in.c + i) * g.in.plane();
          const T *wp = w + (o * g.in.c + i) * taps;
          for (int64_t kh = 0; kh < g.kernel.h; ++kh)
            for (int64_t kw = 0; kw < g.kernel.w; ++kw) {
              const double wv = wp[kh * g.kernel.w + kw];
              forEachTapRow(g, kh, kw, [&](int64_t outBase, int64_t inBase, int64_t lo, int64_t hi) {
                // inBase may be negative (left padding): index, never form
                // a pointer before the buffer.
                double *a = acc.data() + outBase;
                if (sw == 1) // the common case; a unit stride lets the compiler vectorise
                  for (int64_t ow = lo; ow < hi; ++ow)
                    a[ow] += wv * double(xp[inBase + ow]);
                else
                  for (int64_t ow = lo; ow < hi; ++ow)
                    a[ow] += wv * double(xp[inBase + ow * sw]);
              });
            }
        }
        T *yp = y + (n * g.out.c + o) * g.out.plane();
        for (int64_t e = 0; e < g.out.plane(); ++e)
          yp[e] = relu && !(acc[e] > 0) ? T(0) : T(acc[e]); // as the ReLU op
      }
  }
}

/// dx = conv^T(dy, w). Parallel over images: each owns its dx image.
template <typename T>
void convInputGrad(const ConvGeometry &g, const T *dy, const T *w, T *dx) {
  const int64_t taps = g.kernel.h * g.kernel.w, sw = g.stride.w;
  const int64_t inImage = g.in.c * g.in.plane();
#pragma omp parallel if (g.macs() >= kMinParallelWork)
  {
    std::vector<double> acc(inImage);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.out.n; ++n) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t o = 0; o < g.out.c; ++o) {
        const T *dyp = dy + (n * g.out.c + o) * g.out.plane();
        for (int64_t i = 0; i < g.in.c; ++i) {
          const T *wp = w + (o * g.in.c + i) * taps;
          double *ap = acc.data() + i * g.in.plane();
          for (int64_t kh = 0; kh < g.kernel.h; ++kh)
            for (int64_t kw = 0; kw < g.kernel.w; ++kw) {
              const double wv = wp[kh * g.kernel.w + kw];
              forEachTapRow(g, kh, kw, [&](int64_t outBase, int64_t inBase, int64_t lo, int64_t hi) {
                for (int64_t ow = lo; ow < hi; ++ow)
                  ap[inBase + ow * sw] += wv * double(dyp[outBase + ow]);
              });
            }
        }
      }
      std::copy(acc.begin(), acc.end(), dx + n * inImage);
    }
  }
}

/// dw = sum over the batch of dy (x) x, db = sum of dy. Parallel over output
/// channels: each owns its weight slice and bias element.
template <typename T>
void convParamGrads(const ConvGeometry &g, const T *x, const T *dy, T *dw, T *db) {
  const int64_t taps = g.kernel.h * g.kernel.w, sw = g.stride.w;
#pragma omp parallel for schedule(static) if (g.macs() >= kMinParallelWork)
  for (int64_t o = 0; o < g.out.c; ++o) {
    for (int64_t i = 0; i < g.in.c; ++i)
      for (int64_t kh = 0; kh < g.kernel.h; ++kh)
        for (int64_t kw = 0; kw < g.kernel.w; ++kw) {
          double sum = 0;
          for (int64_t n = 0; n < g.out.n; ++n) {
            const T *dyp = dy + (n * g.out.c + o) * g.out.plane();
            const T *xp = x + (n * g.in.c + i) * g.in.plane();
            forEachTapRow(g, kh, kw, [&](int64_t outBase, int64_t inBase, int64_t lo, int64_t hi) {
              for (int64_t ow = lo; ow < hi; ++ow)
                sum += double(dyp[outBase + ow]) * double(xp[inBase + ow * sw]);
            });
          }
          dw[(o * g.in.c + i) * taps + kh * g.kernel.w + kw] = T(sum);
        }
    if (db) {
      double sum = 0;
      for (int64_t n = 0; n < g.out.n; ++n) {
        const T *dyp = dy + (n * g.out.c + o) * g.out.plane();
        for (int64_t e = 0; e < g.out.plane(); ++e)
          sum += dyp[e];
      }
      db[o] = T(sum);
    }
  }
}

//===----------------------------------------------------------------------===//
// ReLU, pooling, dropout
//===----------------------------------------------------------------------===//

/// dy is zeroed where the ReLU output y is not positive: the gradient at 0 is
/// 0. Serves both the ReLU op and fused ReLU (output > 0 iff input > 0).
template <typename T> void reluMaskGrad(const std::vector<T> &y, std::vector<T> &dy) {
  for (size_t e = 0; e < y.size(); ++e)
    if (!(y[e] > T(0)))
      dy[e] = T(0);
}

/// The part of a pooling window that lies inside the input plane, as the
/// half-open ranges [h0, h1) x [w0, w1). Never empty: the shape rules limit
/// padding to half the window.
struct Window {
  int64_t h0, h1, w0, w1;
};

/// Calls f(plane, oh, ow, window) for every output pixel of a pooling layer.
/// Parallel over planes: pooling never mixes planes, so each iteration owns
/// its output (and, in backward, its input-gradient) plane.
template <typename F>
void forEachPoolWindow(const Pool2DAttrs &a, Dims in, Dims out, F &&f) {
  const int64_t work = out.planes() * out.plane() * a.kernel.h * a.kernel.w;
#pragma omp parallel for schedule(static) if (work >= kMinParallelWork)
  for (int64_t p = 0; p < out.planes(); ++p)
    for (int64_t oh = 0; oh < out.h; ++oh)
      for (int64_t ow = 0; ow < out.w; ++ow) {
        int64_t h = oh * a.stride.h - a.padding.h, w = ow * a.stride.w - a.padding.w;
        f(p, oh, ow,
          Window{std::max<int64_t>(h, 0), std::min(h + a.kernel.h, in.h),
                 std::max<int64_t>(w, 0), std::min(w + a.kernel.w, in.w)});
      }
}

/// Plane offset of the first maximum of `win` in row-major scan order.
/// Padding is -infinity, so it never wins and is not scanned.
template <typename T> int64_t argmaxInWindow(const T *plane, int64_t width, const Window &win) {
  int64_t best = win.h0 * width + win.w0;
  for (int64_t h = win.h0; h < win.h1; ++h)
    for (int64_t w = win.w0; w < win.w1; ++w)
      if (plane[h * width + w] > plane[best])
        best = h * width + w;
  return best;
}

template <typename T>
void poolForward(OpKind kind, const Pool2DAttrs &a, Dims in, Dims out, const T *x, T *y) {
  const double area = double(a.kernel.h * a.kernel.w);
  forEachPoolWindow(a, in, out, [&](int64_t p, int64_t oh, int64_t ow, const Window &win) {
    const T *xp = x + p * in.plane();
    T &dst = y[p * out.plane() + oh * out.w + ow];
    if (kind == OpKind::MaxPool2D) {
      dst = xp[argmaxInWindow(xp, in.w, win)];
      return;
    }
    double sum = 0; // padded zeros add nothing but count in `area`
    for (int64_t h = win.h0; h < win.h1; ++h)
      for (int64_t w = win.w0; w < win.w1; ++w)
        sum += xp[h * in.w + w];
    dst = T(sum / area);
  });
}

/// dx (zero-filled by the caller) += the pooling's gradient for dy.
template <typename T>
void poolBackward(OpKind kind, const Pool2DAttrs &a, Dims in, Dims out, const T *x, const T *dy,
                  T *dx) {
  const T area = T(a.kernel.h * a.kernel.w);
  forEachPoolWindow(a, in, out, [&](int64_t p, int64_t oh, int64_t ow, const Window &win) {
    const T g = dy[p * out.plane() + oh * out.w + ow];
    T *dxp = dx + p * in.plane();
    if (kind == OpKind::MaxPool2D) {
      dxp[argmaxInWindow(x + p * in.plane(), in.w, win)] += g;
      return;
    }
    for (int64_t h = win.h0; h < win.h1; ++h)
      for (int64_t w = win.w0; w < win.w1; ++w)
        dxp[h * in.w + w] += g / area;
  });
}

/// The factor dropout layer `layer` applies to element `e` of the batch
/// (`perImage` elements an image): 0 or 1/(1-rate). The counter is the
/// element's index in the global batch (RunOptions::firstImage).
template <typename T>
T dropoutFactor(const RunOptions &opts, int layer, float rate, int64_t e, size_t perImage) {
  float u = randomUniform01(opts.dropoutSeed, kStreamDropout + uint64_t(layer),
                            (opts.step << 40) + opts.firstImage * uint64_t(perImage) +
                                uint64_t(e));
  return u >= rate ? T(1) / (T(1) - T(rate)) : T(0);
}

//===----------------------------------------------------------------------===//
// Loss
//===----------------------------------------------------------------------===//

/// log(sum(exp(z))) over k logits, shifted by the maximum so nothing overflows.
template <typename T> double logSumExp(const T *z, int64_t k) {
  double m = *std::max_element(z, z + k);
  double sum = 0;
  for (int64_t j = 0; j < k; ++j)
    sum += std::exp(double(z[j]) - m);
  return m + std::log(sum);
}

} // namespace ninc::reference::ops

#endif // NINC_COMPILER_REFERENCE_OPS_H
