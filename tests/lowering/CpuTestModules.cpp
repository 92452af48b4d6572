//===- tests/lowering/CpuTestModules.cpp - Contract modules + references --===//
#include "tests/lowering/CpuTestModules.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace ninc::cputest {
namespace {

std::string dims(const Shape &shape) {
  std::string out;
  for (int64_t d : shape)
    out += std::to_string(d) + "x";
  return out;
}
std::string tensorType(const Shape &s) { return "tensor<" + dims(s) + "f32>"; }
std::string memrefType(const Shape &s) { return "memref<" + dims(s) + "f32>"; }

std::string identityMap(size_t rank) {
  std::string d;
  for (size_t i = 0; i < rank; ++i)
    d += (i ? ", d" : "d") + std::to_string(i);
  return "affine_map<(" + d + ") -> (" + d + ")>";
}

std::string lastDimMap(size_t rank) {
  std::string d;
  for (size_t i = 0; i < rank; ++i)
    d += (i ? ", d" : "d") + std::to_string(i);
  return "affine_map<(" + d + ") -> (d" + std::to_string(rank - 1) + ")>";
}

std::string parallelIterators(size_t rank) {
  std::string out;
  for (size_t i = 0; i < rank; ++i)
    out += std::string(i ? ", " : "") + "\"parallel\"";
  return "[" + out + "]";
}

/// An f32 constant spelled by its bits (exact).
std::string f32Literal(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08X", bits);
  return text;
}

/// Writes the body of one function in the input contract.
class FunctionWriter {
public:
  explicit FunctionWriter(std::vector<Shape> args) : args_(std::move(args)) {}

  std::string input(size_t i) {
    std::string v = fresh();
    emit(v + " = bufferization.to_tensor %arg" + std::to_string(i) +
         " restrict : " + memrefType(args_[i]));
    return v;
  }

  std::string constant(float value) {
    std::string v = fresh();
    emit(v + " = arith.constant " + f32Literal(value) + " : f32");
    return v;
  }

  std::string filled(float value, const Shape &shape) {
    std::string c = constant(value), e = fresh(), v = fresh();
    emit(e + " = tensor.empty() : " + tensorType(shape));
    emit(v + " = linalg.fill ins(" + c + " : f32) outs(" + e + " : " +
         tensorType(shape) + ") -> " + tensorType(shape));
    return v;
  }

  std::string pad(const std::string &x, Shape &shape, int64_t p) {
    if (p == 0)
      return x;
    Shape padded = shape;
    padded[1] += 2 * p;
    padded[2] += 2 * p;
    std::string zero = constant(0.0f), v = fresh(), lo = std::to_string(p);
    emit(v + " = tensor.pad " + x + " low[0, " + lo + ", " + lo +
         ", 0] high[0, " + lo + ", " + lo + ", 0] {\n" +
         "    ^bb0(%i0: index, %i1: index, %i2: index, %i3: index):\n" +
         "      tensor.yield " + zero + " : f32\n    } : " + tensorType(shape) +
         " to " + tensorType(padded));
    shape = padded;
    return v;
  }

  std::string conv(const std::string &x, const Shape &xs, const std::string &w,
                   const Shape &ws, int64_t stride, const Shape &out,
                   std::string init = "") {
    if (init.empty())
      init = filled(0.0f, out);
    std::string v = fresh();
    emit(v +
         " = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : "
         "tensor<2xi64>, strides = dense<" +
         std::to_string(stride) + "> : tensor<2xi64>} ins(" + x + ", " + w +
         " : " + tensorType(xs) + ", " + tensorType(ws) + ") outs(" + init +
         " : " + tensorType(out) + ") -> " + tensorType(out));
    return v;
  }

  std::string matmul(const std::string &a, const Shape &as,
                     const std::string &b, const Shape &bs) {
    Shape out = {as[0], bs[1]};
    std::string init = filled(0.0f, out), v = fresh();
    emit(v + " = linalg.matmul ins(" + a + ", " + b + " : " + tensorType(as) +
         ", " + tensorType(bs) + ") outs(" + init + " : " + tensorType(out) +
         ") -> " + tensorType(out));
    return v;
  }

  /// acc [M, N] + a^T b for a [K, M], b [K, N] (the weight gradients' form).
  std::string matmulTransposeA(const std::string &a, const Shape &as,
                               const std::string &b, const Shape &bs,
                               const std::string &acc) {
    Shape out = {as[1], bs[1]};
    std::string v = fresh();
    emit(v + " = linalg.matmul_transpose_a ins(" + a + ", " + b + " : " +
         tensorType(as) + ", " + tensorType(bs) + ") outs(" + acc + " : " +
         tensorType(out) + ") -> " + tensorType(out));
    return v;
  }

  std::string reshape(const char *op, const std::string &x, const Shape &from,
                      const Shape &to, const std::string &reassociation) {
    std::string v = fresh(), extra;
    if (std::string(op) == "tensor.expand_shape") {
      extra = " output_shape [";
      for (size_t i = 0; i < to.size(); ++i)
        extra += (i ? ", " : "") + std::to_string(to[i]);
      extra += "]";
    }
    emit(v + " = " + op + " " + x + " " + reassociation + extra + " : " +
         tensorType(from) + " into " + tensorType(to));
    return v;
  }

  /// max(x + bias[last dim], 0).
  std::string biasRelu(const std::string &x, const Shape &shape,
                       const std::string &bias) {
    std::string zero = constant(0.0f), e = fresh(), v = fresh();
    size_t rank = shape.size();
    emit(e + " = tensor.empty() : " + tensorType(shape));
    emit(v + " = linalg.generic {indexing_maps = [" + identityMap(rank) + ", " +
         lastDimMap(rank) + ", " + identityMap(rank) + "], iterator_types = " +
         parallelIterators(rank) + "} ins(" + x + ", " + bias + " : " +
         tensorType(shape) + ", " + tensorType({shape.back()}) + ") outs(" + e +
         " : " + tensorType(shape) + ") {\n" +
         "    ^bb0(%in: f32, %b: f32, %o: f32):\n"
         "      %s = arith.addf %in, %b : f32\n"
         "      %m = arith.maximumf %s, " +
         zero + " : f32\n      linalg.yield %m : f32\n    } -> " +
         tensorType(shape));
    return v;
  }

  std::string scale(const std::string &x, const Shape &shape, float factor) {
    std::string c = constant(factor), e = fresh(), v = fresh();
    size_t rank = shape.size();
    emit(e + " = tensor.empty() : " + tensorType(shape));
    emit(v + " = linalg.generic {indexing_maps = [" + identityMap(rank) + ", " +
         identityMap(rank) + "], iterator_types = " + parallelIterators(rank) +
         "} ins(" + x + " : " + tensorType(shape) + ") outs(" + e + " : " +
         tensorType(shape) + ") {\n" +
         "    ^bb0(%in: f32, %o: f32):\n      %m = arith.mulf %in, " + c +
         " : f32\n      linalg.yield %m : f32\n    } -> " + tensorType(shape));
    return v;
  }

  std::string pool(const char *op, float init, const std::string &x,
                   const Shape &xs, int64_t k, int64_t s, const Shape &out) {
    std::string filledInit = filled(init, out), win = fresh(), v = fresh();
    Shape window = {k, k};
    emit(win + " = tensor.empty() : " + tensorType(window));
    emit(v + " = " + op +
         " {dilations = dense<1> : tensor<2xi64>, strides = "
         "dense<" +
         std::to_string(s) + "> : tensor<2xi64>} ins(" + x + ", " + win +
         " : " + tensorType(xs) + ", " + tensorType(window) + ") outs(" +
         filledInit + " : " + tensorType(out) + ") -> " + tensorType(out));
    return v;
  }

  std::string transpose(const std::string &x, const Shape &xs,
                        const Shape &perm) {
    Shape out;
    for (int64_t p : perm)
      out.push_back(xs[p]);
    std::string e = fresh(), v = fresh(), permText;
    for (size_t i = 0; i < perm.size(); ++i)
      permText += (i ? ", " : "") + std::to_string(perm[i]);
    emit(e + " = tensor.empty() : " + tensorType(out));
    emit(v + " = linalg.transpose ins(" + x + " : " + tensorType(xs) +
         ") outs(" + e + " : " + tensorType(out) + ") permutation = [" +
         permText + "]");
    return v;
  }

  /// The module: the function writes `result` into its last argument.
  std::string finish(const std::string &name, const std::string &result) {
    std::string sig;
    for (size_t i = 0; i < args_.size(); ++i)
      sig += (i ? ", %arg" : "%arg") + std::to_string(i) + ": " +
             memrefType(args_[i]);
    emit("bufferization.materialize_in_destination " + result +
         " in restrict writable %arg" + std::to_string(args_.size() - 1) +
         " : (" + tensorType(args_.back()) + ", " + memrefType(args_.back()) +
         ") -> ()");
    return "module {\n  func.func @" + name + "(" + sig + ") {\n" + body_ +
           "    return\n  }\n}\n";
  }

private:
  std::string fresh() { return "%v" + std::to_string(next_++); }
  void emit(const std::string &line) { body_ += "    " + line + "\n"; }

  std::vector<Shape> args_;
  std::string body_;
  int next_ = 0;
};

Shape convOutput(const ConvSpec &s) {
  return {s.n, (s.h + 2 * s.pad - s.k) / s.stride + 1,
          (s.w + 2 * s.pad - s.k) / s.stride + 1, s.f};
}

double convFlops(const ConvSpec &s) {
  return 2.0 * static_cast<double>(numElements(convOutput(s))) * s.k * s.k *
         s.c;
}

// Naive references (NHWC, HWCF), accumulating in double.
std::vector<float> refConv(const std::vector<float> &x, const std::vector<float> &w,
                           const std::vector<float> &b, const ConvSpec &s, bool relu) {
  Shape o = convOutput(s);
  std::vector<float> out(numElements(o));
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t oy = 0; oy < o[1]; ++oy)
      for (int64_t ox = 0; ox < o[2]; ++ox)
        for (int64_t f = 0; f < s.f; ++f) {
          double acc = b[f];
          for (int64_t ky = 0; ky < s.k; ++ky)
            for (int64_t kx = 0; kx < s.k; ++kx) {
              int64_t iy = oy * s.stride + ky - s.pad;
              int64_t ix = ox * s.stride + kx - s.pad;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w)
                continue;
              const float *in = &x[((n * s.h + iy) * s.w + ix) * s.c];
              const float *wt = &w[((ky * s.k + kx) * s.c) * s.f + f];
              for (int64_t c = 0; c < s.c; ++c)
                acc += static_cast<double>(in[c]) * wt[c * s.f];
            }
          out[((n * o[1] + oy) * o[2] + ox) * s.f + f] =
              static_cast<float>(relu ? std::max(acc, 0.0) : acc);
        }
  return out;
}

std::vector<float> refConvBiasRelu(const std::vector<float> &x,
                                   const std::vector<float> &w,
                                   const std::vector<float> &b,
                                   const ConvSpec &s) {
  return refConv(x, w, b, s, /*relu=*/true);
}

std::vector<float> refPool(const std::vector<float> &x, const Shape &xs,
                           int64_t k, int64_t s, bool isMax) {
  Shape o = {xs[0], (xs[1] - k) / s + 1, (xs[2] - k) / s + 1, xs[3]};
  std::vector<float> out(numElements(o));
  for (int64_t n = 0; n < o[0]; ++n)
    for (int64_t oy = 0; oy < o[1]; ++oy)
      for (int64_t ox = 0; ox < o[2]; ++ox)
        for (int64_t c = 0; c < o[3]; ++c) {
          double acc = isMax ? -std::numeric_limits<double>::infinity() : 0;
          for (int64_t ky = 0; ky < k; ++ky)
            for (int64_t kx = 0; kx < k; ++kx) {
              double v =
                  x[((n * xs[1] + oy * s + ky) * xs[2] + ox * s + kx) * xs[3] +
                    c];
              acc = isMax ? std::max(acc, v) : acc + v;
            }
          out[((n * o[1] + oy) * o[2] + ox) * o[3] + c] =
              static_cast<float>(isMax ? acc : acc / (k * k));
        }
  return out;
}

} // namespace

int64_t numElements(const Shape &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

TestFunction convBiasRelu(const std::string &name, const ConvSpec &s) {
  Shape xs = {s.n, s.h, s.w, s.c}, ws = {s.k, s.k, s.c, s.f},
        out = convOutput(s);
  FunctionWriter fw({xs, ws, {s.f}, out});
  std::string x = fw.input(0), w = fw.input(1), b = fw.input(2);
  Shape padded = xs;
  x = fw.pad(x, padded, s.pad);
  std::string c = fw.conv(x, padded, w, ws, s.stride, out);
  std::string mlir = fw.finish(name, fw.biasRelu(c, out, b));
  auto reference = [s](const std::vector<std::vector<float>> &in) {
    return refConvBiasRelu(in[0], in[1], in[2], s);
  };
  return {name, mlir, {xs, ws, {s.f}}, out, reference, convFlops(s)};
}

TestFunction convAccumulate(const std::string &name, const ConvSpec &s) {
  Shape xs = {s.n, s.h, s.w, s.c}, ws = {s.k, s.k, s.c, s.f}, out = convOutput(s);
  FunctionWriter fw({xs, ws, out, out});
  std::string x = fw.input(0), w = fw.input(1), acc = fw.input(2);
  std::string mlir = fw.finish(name, fw.conv(x, xs, w, ws, s.stride, out, acc));
  auto reference = [s](const std::vector<std::vector<float>> &in) {
    std::vector<float> r = refConv(in[0], in[1], std::vector<float>(s.f, 0.0f), s, false);
    for (size_t i = 0; i < r.size(); ++i)
      r[i] += in[2][i];
    return r;
  };
  return {name, mlir, {xs, ws, out}, out, reference, convFlops(s)};
}

TestFunction matmulTransposeAAccumulate(const std::string &name, int64_t m, int64_t n,
                                        int64_t k) {
  Shape as = {k, m}, bs = {k, n}, out = {m, n};
  FunctionWriter fw({as, bs, out, out});
  std::string a = fw.input(0), b = fw.input(1), acc = fw.input(2);
  std::string mlir = fw.finish(name, fw.matmulTransposeA(a, as, b, bs, acc));
  auto reference = [m, n, k](const std::vector<std::vector<float>> &in) {
    std::vector<float> r(m * n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = in[2][i * n + j];
        for (int64_t p = 0; p < k; ++p)
          sum += static_cast<double>(in[0][p * m + i]) * in[1][p * n + j];
        r[i * n + j] = static_cast<float>(sum);
      }
    return r;
  };
  return {name, mlir, {as, bs, out}, out, reference, 2.0 * m * n * k};
}

TestFunction conv1x1AsMatmul(const std::string &name, const ConvSpec &s) {
  Shape xs = {s.n, s.h, s.w, s.c}, ws = {1, 1, s.c, s.f}, out = convOutput(s);
  Shape as = {s.n * s.h * s.w, s.c}, bs = {s.c, s.f}, ms = {as[0], s.f};
  FunctionWriter fw({xs, ws, {s.f}, out});
  std::string x = fw.input(0), w = fw.input(1), b = fw.input(2);
  std::string a =
      fw.reshape("tensor.collapse_shape", x, xs, as, "[[0, 1, 2], [3]]");
  std::string wm =
      fw.reshape("tensor.collapse_shape", w, ws, bs, "[[0, 1, 2], [3]]");
  std::string m = fw.biasRelu(fw.matmul(a, as, wm, bs), ms, b);
  std::string r =
      fw.reshape("tensor.expand_shape", m, ms, out, "[[0, 1, 2], [3]]");
  std::string mlir = fw.finish(name, r);
  ConvSpec one = s;
  one.k = 1;
  auto reference = [one](const std::vector<std::vector<float>> &in) {
    return refConvBiasRelu(in[0], in[1], in[2], one);
  };
  return {name, mlir, {xs, ws, {s.f}}, out, reference, convFlops(one)};
}

TestFunction maxPool(const std::string &name, const Shape &xs, int64_t k,
                     int64_t s) {
  Shape out = {xs[0], (xs[1] - k) / s + 1, (xs[2] - k) / s + 1, xs[3]};
  FunctionWriter fw({xs, out});
  std::string x = fw.input(0);
  std::string mlir = fw.finish(
      name, fw.pool("linalg.pooling_nhwc_max",
                    -std::numeric_limits<float>::infinity(), x, xs, k, s, out));
  auto reference = [=](const std::vector<std::vector<float>> &in) {
    return refPool(in[0], xs, k, s, /*isMax=*/true);
  };
  return {name, mlir, {xs}, out, reference};
}

TestFunction avgPool(const std::string &name, const Shape &xs, int64_t k,
                     int64_t s) {
  Shape out = {xs[0], (xs[1] - k) / s + 1, (xs[2] - k) / s + 1, xs[3]};
  FunctionWriter fw({xs, out});
  std::string x = fw.input(0);
  std::string sum = fw.pool("linalg.pooling_nhwc_sum", 0.0f, x, xs, k, s, out);
  std::string mlir =
      fw.finish(name, fw.scale(sum, out, 1.0f / static_cast<float>(k * k)));
  auto reference = [=](const std::vector<std::vector<float>> &in) {
    return refPool(in[0], xs, k, s, /*isMax=*/false);
  };
  return {name, mlir, {xs}, out, reference};
}

TestFunction transposeToNchw(const std::string &name, const Shape &xs) {
  Shape out = {xs[0], xs[3], xs[1], xs[2]};
  FunctionWriter fw({xs, out});
  std::string x = fw.input(0);
  std::string mlir = fw.finish(name, fw.transpose(x, xs, {0, 3, 1, 2}));
  auto reference = [=](const std::vector<std::vector<float>> &in) {
    std::vector<float> r(numElements(out));
    for (int64_t n = 0; n < xs[0]; ++n)
      for (int64_t y = 0; y < xs[1]; ++y)
        for (int64_t x = 0; x < xs[2]; ++x)
          for (int64_t c = 0; c < xs[3]; ++c)
            r[((n * xs[3] + c) * xs[1] + y) * xs[2] + x] =
                in[0][((n * xs[1] + y) * xs[2] + x) * xs[3] + c];
    return r;
  };
  return {name, mlir, {xs}, out, reference};
}

TestFunction ninBlock(const std::string &name, const ConvSpec &first,
                      int64_t f2) {
  Shape xs = {first.n, first.h, first.w, first.c};
  Shape w1s = {first.k, first.k, first.c, first.f}, mid = convOutput(first);
  Shape w2s = {1, 1, first.f, f2}, mid2 = {mid[0], mid[1], mid[2], f2};
  Shape out = {mid[0], (mid[1] - 3) / 2 + 1, (mid[2] - 3) / 2 + 1, f2};
  FunctionWriter fw({xs, w1s, {first.f}, w2s, {f2}, out});
  std::string x = fw.input(0), w1 = fw.input(1), b1 = fw.input(2);
  std::string w2 = fw.input(3), b2 = fw.input(4);
  Shape padded = xs;
  x = fw.pad(x, padded, first.pad);
  std::string h1 =
      fw.biasRelu(fw.conv(x, padded, w1, w1s, first.stride, mid), mid, b1);
  std::string h2 = fw.biasRelu(fw.conv(h1, mid, w2, w2s, 1, mid2), mid2, b2);
  std::string mlir =
      fw.finish(name, fw.pool("linalg.pooling_nhwc_max",
                              -std::numeric_limits<float>::infinity(), h2, mid2,
                              3, 2, out));
  ConvSpec second = {mid[0], mid[1], mid[2], first.f, f2, 1, 1, 0};
  auto reference = [=](const std::vector<std::vector<float>> &in) {
    std::vector<float> a = refConvBiasRelu(in[0], in[1], in[2], first);
    std::vector<float> b = refConvBiasRelu(a, in[3], in[4], second);
    return refPool(b, mid2, 3, 2, /*isMax=*/true);
  };
  return {name, mlir,      {xs, w1s, {first.f}, w2s, {f2}},
          out,  reference, convFlops(first) + convFlops(second)};
}

} // namespace ninc::cputest
