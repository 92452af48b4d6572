//===- compiler/model/Model.h - A validated model in plain C++ ----*- C++ -*-===//
//
// The model every part of ninc works from after the frontend: layers in
// execution order with NiN blocks expanded into their convolutions, the input
// shape, parameters and the training recipe. Plain C++ (no protobuf, no MLIR)
// so the reference interpreter, `inspect` and the importer share one view.
// Shape rules for it live in Shapes.h, resource counts in Cost.h.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_MODEL_MODEL_H
#define NINC_COMPILER_MODEL_MODEL_H

#include <cstdint>
#include <string>
#include <vector>

namespace ninc {

enum class OpKind { Conv2D, ReLU, MaxPool2D, AvgPool2D, GlobalAvgPool, Dropout, Flatten };

/// The spelling used in specs, dumps and messages ("conv", "max_pool", ...).
const char *opKindName(OpKind kind);

/// Height/width pair (kernel, stride, padding).
struct HW {
  int64_t h = 0, w = 0;
};

struct Conv2DAttrs {
  int64_t outChannels = 0;
  HW kernel, stride{1, 1}, padding;
  bool bias = true;
  bool relu = false; ///< Fused ReLU on the output.
};

struct Pool2DAttrs {
  HW kernel, stride, padding;
};

/// One executable layer. NiN blocks are expanded: spec layer "block1" becomes
/// layers "block1.0" (kxk conv), "block1.1", "block1.2" (1x1 convs).
struct Layer {
  std::string name;
  OpKind kind = OpKind::ReLU;
  Conv2DAttrs conv;          ///< kind == Conv2D
  Pool2DAttrs pool;          ///< kind == MaxPool2D / AvgPool2D
  float dropoutRate = 0.0f;  ///< kind == Dropout
  int specIndex = 0;         ///< Index of the spec layer this came from.
};

/// A top-level layer of the spec as written (a NiN block is one of these).
struct SpecLayer {
  std::string name;
  std::string op;            ///< "nin_block", "conv", "max_pool", ...
  int firstLayer = 0;        ///< Expanded layers [firstLayer, endLayer).
  int endLayer = 0;
};

/// A float tensor, row-major.
struct TensorData {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

struct TrainingConfig {
  float learningRate = 0.1f;
  float momentum = 0.0f;
  float weightDecay = 0.0f;
  int64_t batchSize = 128;
  int64_t epochs = 5;
  float xavierMagnitude = 3.0f;
  uint64_t seed = 0;
  std::string dataset = "fashion-mnist";
};

struct Model {
  std::string name;
  std::string description;
  std::string sourcePath;        ///< File it was read from, for messages.
  int64_t channels = 0, height = 0, width = 0; ///< Input image, no batch.
  /// Classes of a classifier (its output is logits [N, numClasses]); 0 for
  /// a feature extractor, whose output is whatever its last layer gives
  /// (it can infer, not train).
  int64_t numClasses = 0;
  std::vector<Layer> layers;     ///< Expanded, in execution order.
  std::vector<SpecLayer> specLayers;
  /// Trained parameters in parameterList() order, or empty (seeded init).
  std::vector<TensorData> weights;
  TrainingConfig training;
  /// The spec as read, binary-encoded without its weights: an opaque record
  /// the frontend uses to write the model back (with new weights) unchanged.
  std::string specBytes;
};

/// A learnable tensor: a convolution's weight [O, I, KH, KW] or bias [O].
struct ParamInfo {
  std::string name;              ///< "<layer>.weight" / "<layer>.bias"
  std::vector<int64_t> shape;
  int layer = 0;                 ///< Index into Model::layers.
  bool isBias = false;
  int64_t fanIn = 0, fanOut = 0; ///< I*KH*KW and O*KH*KW (Xavier).
  int64_t numel() const;
};

/// The model's parameters in canonical order: for each conv layer in
/// execution order, its weight then its bias. Requires shapes to be valid
/// (in_channels comes from the previous layer's output).
std::vector<ParamInfo> parameterList(const Model &model);

} // namespace ninc

#endif // NINC_COMPILER_MODEL_MODEL_H
