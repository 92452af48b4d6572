//===- tests/lowering/CpuTestModules.h - Contract modules -------*- C++ -*-===//
//
// MLIR text in the CPU backend's input contract (memref arguments read with
// restrict to_tensor, linalg on tensors, materialize_in_destination into the
// output), and naive C++ references computing the same functions.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_TESTS_LOWERING_CPUTESTMODULES_H
#define NINC_TESTS_LOWERING_CPUTESTMODULES_H

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ninc::cputest {

using Shape = std::vector<int64_t>;

int64_t numElements(const Shape &shape);

/// One test function: its MLIR module text, the shapes of its arguments
/// (inputs, then the output last) and a reference implementation.
struct TestFunction {
  std::string name;
  std::string mlir;
  std::vector<Shape> inputs;
  Shape output;
  std::function<std::vector<float>(const std::vector<std::vector<float>> &)>
      reference;
  /// Multiply-adds x 2, for GFLOP/s.
  double flops = 0;
};

/// Convolution NHWC x HWCF (+ bias + ReLU), square kernel, symmetric padding.
struct ConvSpec {
  int64_t n, h, w, c, f, k, stride = 1, pad = 0;
};

/// conv_2d_nhwc_hwcf + bias + ReLU. Arguments: x, w (KxKxCxF), bias, out.
TestFunction convBiasRelu(const std::string &name, const ConvSpec &spec);
/// conv_2d_nhwc_hwcf accumulating into a given tensor (no fill, no
/// epilogue: the weight gradients' form). Arguments: x, w, acc, out.
TestFunction convAccumulate(const std::string &name, const ConvSpec &spec);
/// acc + a^T b with a [K, M], b [K, N] (linalg.matmul_transpose_a into a
/// given tensor: the 1x1 weight gradients' form). Arguments: a, b, acc, out.
TestFunction matmulTransposeAAccumulate(const std::string &name, int64_t m, int64_t n,
                                        int64_t k);
/// The same 1x1 convolution written as collapse_shape + matmul + bias/ReLU
/// on the 2-D result + expand_shape.
TestFunction conv1x1AsMatmul(const std::string &name, const ConvSpec &spec);
/// pooling_nhwc_max, window k, stride s, no padding.
TestFunction maxPool(const std::string &name, const Shape &nhwc, int64_t k,
                     int64_t s);
/// pooling_nhwc_sum followed by a scale by 1/k^2 (average pool).
TestFunction avgPool(const std::string &name, const Shape &nhwc, int64_t k,
                     int64_t s);
/// linalg.transpose NHWC -> NCHW.
TestFunction transposeToNchw(const std::string &name, const Shape &nhwc);
/// A NiN block in one function: conv kxk (pad) + ReLU, 1x1 conv + ReLU,
/// max pool 3x3/2; intermediates live in malloc'ed buffers.
/// Arguments: x, w1, b1, w2, b2, out.
TestFunction ninBlock(const std::string &name, const ConvSpec &first,
                      int64_t f2);

} // namespace ninc::cputest

#endif // NINC_TESTS_LOWERING_CPUTESTMODULES_H
