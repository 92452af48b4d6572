//===- compiler/model/Cost.h - Parameters, FLOPs and memory --------*- C++ -*-===//
//
// Exercise 3 of d2l 7.3: the resource usage of a model. Counts are nominal
// and exact for the model as specified (docs/model-spec.md, "Costs", says what
// each number counts); memory is what a straightforward fp32 execution needs,
// the baseline the compiler's memory planner is measured against.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_MODEL_COST_H
#define NINC_COMPILER_MODEL_COST_H

#include "compiler/model/Shapes.h"

#include <cstdint>
#include <vector>

namespace ninc {

/// Counts for one expanded layer at a given batch size.
struct LayerCost {
  int64_t params = 0;
  int64_t macs = 0;          ///< Multiply-accumulates (convolutions).
  int64_t forwardFlops = 0;  ///< Inference forward: 2 * MACs + bias, ReLU, pooling, ...
  int64_t backwardFlops = 0; ///< Data and weight gradients of the training step.
  int64_t outputElems = 0;
};

/// Bytes of a fp32 execution.
struct MemoryEstimate {
  int64_t weights = 0;
  int64_t gradients = 0;      ///< Training: one per parameter.
  int64_t optimizerState = 0; ///< Training: SGD momentum buffers (0 without momentum).
  int64_t activations = 0;    ///< Inference: the two live buffers of the largest layer;
                              ///< training: the input and every layer output (kept for backward).
  int64_t workspace = 0;      ///< Training: gradient buffers of the largest layer in backward.
  int64_t total() const { return weights + gradients + optimizerState + activations + workspace; }
};

struct ModelCost {
  int64_t batch = 1;
  std::vector<LayerCost> layers;  ///< Parallel to Model::layers.
  int64_t params = 0;
  int64_t macs = 0;
  int64_t forwardFlops = 0;       ///< Inference, whole batch.
  int64_t trainFlops = 0;         ///< Training step: forward (with dropout), backward, SGD.
  MemoryEstimate inference, training;
};

/// Costs of `model` for `batch` images; `shapes` are inferShapes(model, batch).
ModelCost computeCost(const Model &model, const std::vector<Shape> &shapes, int64_t batch);

/// Sums the expanded layers [first, end) of one spec layer.
LayerCost sumLayers(const ModelCost &cost, int first, int end);

} // namespace ninc

#endif // NINC_COMPILER_MODEL_COST_H
