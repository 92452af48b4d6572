//===- compiler/model/Program.cpp - A model's runtime descriptor ----------===//

#include "compiler/model/Program.h"

namespace ninc {

rt::ModelDescriptor describeModel(const Model &model, int64_t batch) {
  rt::ModelDescriptor d;
  d.model = model.name;
  d.batch = batch;
  d.channels = model.channels;
  d.height = model.height;
  d.width = model.width;
  d.classes = model.numClasses;
  d.seed = model.training.seed;
  d.magnitude = model.training.xavierMagnitude;
  d.learningRate = model.training.learningRate;
  d.momentum = model.training.momentum;
  d.weightDecay = model.training.weightDecay;
  d.epochs = model.training.epochs;
  int64_t next = 0;
  for (const ParamInfo &p : parameterList(model)) {
    d.params.push_back({p.name, next, p.shape.size() == 4 ? "HWCF" : "plain", p.shape});
    next += alignParam(p.numel());
  }
  d.blobSize = std::max<int64_t>(next, 1);
  return d;
}

} // namespace ninc
