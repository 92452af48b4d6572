//===- compiler/model/Shapes.h - The shape rules, in one place ----*- C++ -*-===//
//
// Output shapes of every layer, and the limits that keep any model within
// bounded memory. Used by the validator, `inspect`, the interpreter and (next)
// the dialect's verifiers and lowerings, so the rules exist exactly once.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_MODEL_SHAPES_H
#define NINC_COMPILER_MODEL_SHAPES_H

#include "compiler/model/Model.h"
#include "runtime/support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ninc {

/// [N, C, H, W] for images, [N, F] after Flatten.
using Shape = std::vector<int64_t>;

/// Limits on sizes, so no model can ask for unbounded memory or overflow.
struct ShapeLimits {
  static constexpr int64_t kMaxDim = 16384;          ///< Input height / width.
  static constexpr int64_t kMaxChannels = 65536;
  static constexpr int64_t kMaxWindow = 1024;        ///< Kernel, stride, padding.
  static constexpr int64_t kMaxImageElems = 1ll << 31;  ///< One activation, one image.
  static constexpr int64_t kMaxParams = 1ll << 31;   ///< Whole model.
  static constexpr int64_t kMaxBatch = 1 << 20;
};

/// "[1, 96, 54, 54]"
std::string formatShape(const Shape &shape);
/// "(1, 96, 54, 54)" as the chapter prints shapes.
std::string formatShapeTuple(const Shape &shape);
int64_t numElements(const Shape &shape);

/// "layers[2] 'pool1' (max_pool)" or, inside a NiN block,
/// "layers[0] 'block1' (nin_block), conv 'block1.1'".
std::string describeLayer(const Model &model, int layerIndex);

/// Output size of a window sliding over `in` (conv and pooling, floor mode).
/// Returns 0 or less when the window does not fit.
inline int64_t slidingOutput(int64_t in, int64_t kernel, int64_t stride, int64_t pad) {
  return (in + 2 * pad - kernel) / stride + 1 - (in + 2 * pad < kernel ? 1 : 0);
}

/// The input shape [batch, C, H, W].
Shape inputShape(const Model &model, int64_t batch);

/// Output shape of every layer of `model.layers` for `batch` images, checking
/// every rule (windows fit, ranks match, sizes within ShapeLimits, the model
/// ends in [N, num_classes]). Errors name the layer and the field.
Expected<std::vector<Shape>> inferShapes(const Model &model, int64_t batch);

} // namespace ninc

#endif // NINC_COMPILER_MODEL_SHAPES_H
