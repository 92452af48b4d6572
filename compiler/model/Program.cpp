//===- compiler/model/Program.cpp - A model's runtime descriptor ----------===//

#include "compiler/model/Program.h"
#include "compiler/model/Shapes.h"

namespace ninc {

rt::ModelDescriptor describeModel(const Model &model, int64_t batch) {
  rt::ModelDescriptor d;
  d.model = model.name;
  d.batch = batch;
  d.channels = model.channels;
  d.height = model.height;
  d.width = model.width;
  d.classes = model.numClasses;
  if (model.numClasses == 0) { // a feature extractor: its last layer's shape
    Expected<std::vector<Shape>> shapes = inferShapes(model, 1);
    if (shapes && !shapes->empty()) {
      d.output.assign(shapes->back().begin() + 1, shapes->back().end());
      d.classes = 1;
      for (int64_t v : d.output)
        d.classes *= v;
    }
  }
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
