//===- compiler/model/Cost.cpp - Parameters, FLOPs and memory -------------===//

#include "compiler/model/Cost.h"

#include <algorithm>

namespace ninc {

namespace {

constexpr int64_t kFloatBytes = 4;

/// Counts of one layer given its input and output shapes. `first` says the
/// layer reads the model input, whose gradient training does not need.
LayerCost layerCost(const Layer &layer, const Shape &in, const Shape &out, bool first) {
  LayerCost c;
  c.outputElems = numElements(out);
  const int64_t inElems = numElements(in);
  switch (layer.kind) {
  case OpKind::Conv2D: {
    const Conv2DAttrs &a = layer.conv;
    int64_t window = in[1] * a.kernel.h * a.kernel.w;
    c.params = a.outChannels * window + (a.bias ? a.outChannels : 0);
    c.macs = c.outputElems * window;
    int64_t epilogue = (a.bias ? c.outputElems : 0) + (a.relu ? c.outputElems : 0);
    c.forwardFlops = 2 * c.macs + epilogue;
    // Weight gradient always; data gradient unless this reads the model input.
    c.backwardFlops = 2 * c.macs + (first ? 0 : 2 * c.macs) + epilogue;
    break;
  }
  case OpKind::MaxPool2D:
  case OpKind::AvgPool2D:
    c.forwardFlops = c.outputElems * layer.pool.kernel.h * layer.pool.kernel.w;
    c.backwardFlops = c.forwardFlops;
    break;
  case OpKind::GlobalAvgPool:
    c.forwardFlops = inElems;
    c.backwardFlops = inElems;
    break;
  case OpKind::ReLU:
    c.forwardFlops = c.outputElems;
    c.backwardFlops = c.outputElems;
    break;
  case OpKind::Dropout: // Identity in inference; a multiply each way in training.
    c.backwardFlops = c.outputElems;
    break;
  case OpKind::Flatten:
    break;
  }
  return c;
}

} // namespace

ModelCost computeCost(const Model &model, const std::vector<Shape> &shapes, int64_t batch) {
  ModelCost cost;
  cost.batch = batch;
  Shape in = inputShape(model, batch);
  int64_t saved = numElements(in);   // training keeps the input ...
  int64_t largestPair = 0;           // ... and every layer output
  int64_t trainExtra = 0;            // dropout's forward multiply in training
  for (size_t i = 0; i < model.layers.size(); ++i) {
    LayerCost c = layerCost(model.layers[i], in, shapes[i], i == 0);
    cost.params += c.params;
    cost.macs += c.macs;
    cost.forwardFlops += c.forwardFlops;
    cost.trainFlops += c.forwardFlops + c.backwardFlops;
    if (model.layers[i].kind == OpKind::Dropout)
      trainExtra += c.outputElems;
    saved += c.outputElems;
    largestPair = std::max(largestPair, numElements(in) + c.outputElems);
    cost.layers.push_back(c);
    in = shapes[i];
  }
  // Softmax cross-entropy forward and backward: exp, sum, log, subtract, scale
  // per logit, about 5 operations each.
  const int64_t lossFlops = 5 * numElements(in);
  const TrainingConfig &t = model.training;
  // SGD per parameter: w -= lr*g (2), + wd*w (2), v = m*v + g (2).
  int64_t sgdPerParam = 2 + (t.weightDecay != 0 ? 2 : 0) + (t.momentum != 0 ? 2 : 0);
  cost.trainFlops += trainExtra + lossFlops + sgdPerParam * cost.params;

  const int64_t weightBytes = cost.params * kFloatBytes;
  cost.inference.weights = weightBytes;
  cost.inference.activations = largestPair * kFloatBytes;
  cost.training.weights = weightBytes;
  cost.training.gradients = weightBytes;
  cost.training.optimizerState = t.momentum != 0 ? weightBytes : 0;
  cost.training.activations = saved * kFloatBytes;
  cost.training.workspace = largestPair * kFloatBytes;
  return cost;
}

LayerCost sumLayers(const ModelCost &cost, int first, int end) {
  LayerCost s;
  for (int i = first; i < end; ++i) {
    const LayerCost &c = cost.layers[i];
    s.params += c.params;
    s.macs += c.macs;
    s.forwardFlops += c.forwardFlops;
    s.backwardFlops += c.backwardFlops;
    s.outputElems = c.outputElems;
  }
  return s;
}

} // namespace ninc
