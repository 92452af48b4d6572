//===- compiler/driver/ModelWeights.cpp - Which weights a command uses ----===//

#include "compiler/driver/ModelWeights.h"
#include "compiler/frontend/Frontend.h"
#include "compiler/model/Shapes.h"

namespace ninc {

Expected<std::pair<reference::Params<float>, std::string>>
chooseWeights(const Model &model, const std::string &weightsPath) {
  if (weightsPath.empty()) {
    if (!model.weights.empty())
      return std::make_pair(reference::paramsFromModel<float>(model),
                            std::string("weights from ") + model.sourcePath);
    return std::make_pair(reference::initParams<float>(model, model.training.seed),
                          "untrained: Xavier init, seed " + std::to_string(model.training.seed));
  }
  Expected<Model> source = loadModel(weightsPath);
  if (!source)
    return source.error();
  if (source->weights.empty())
    return Error{weightsPath + ": error: --weights: expected a model file with weights, found "
                 "none"};
  std::vector<ParamInfo> want = parameterList(model);
  if (source->weights.size() != want.size())
    return Error{weightsPath + ": error: --weights: expected " + std::to_string(want.size()) +
                 " parameter tensors for model '" + model.name + "', found " +
                 std::to_string(source->weights.size())};
  for (size_t i = 0; i < want.size(); ++i) {
    const TensorData &t = source->weights[i];
    if (t.name != want[i].name || t.shape != want[i].shape)
      return Error{weightsPath + ": error: --weights: expected parameter '" + want[i].name +
                   "' " + formatShape(want[i].shape) + ", found '" + t.name + "' " +
                   formatShape(t.shape)};
  }
  Model withWeights = model;
  withWeights.weights = source->weights;
  return std::make_pair(reference::paramsFromModel<float>(withWeights),
                        "weights from " + weightsPath);
}

} // namespace ninc
