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
  std::vector<std::pair<std::string, std::vector<int64_t>>> params;
  for (const ParamInfo &p : parameterList(model))
    params.push_back({p.name, p.shape});
  d.params = rt::layoutBlob(params, d.blobSize);
  return d;
}

} // namespace ninc
