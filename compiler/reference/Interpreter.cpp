//===- compiler/reference/Interpreter.cpp - The reference interpreter -----===//
//
// Parameters, the layer-by-layer forward and backward passes, the loss and
// SGD. The ops' loop nests (convolution, pooling, dropout, log-sum-exp) are
// in Ops.h.
//
//===----------------------------------------------------------------------===//

#include "compiler/reference/Interpreter.h"
#include "compiler/reference/Ops.h"
#include "runtime/support/Init.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

namespace ninc::reference {

using namespace ops;

namespace {

/// Precondition violations are bugs in the caller: stop before touching
/// memory out of bounds, even in Release builds where assert() is gone.
void require(bool ok, const std::string &what) {
  if (ok)
    return;
  std::fprintf(stderr, "ninc reference interpreter: %s\n", what.c_str());
  std::abort();
}

} // namespace

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

template <typename T> Params<T> initParams(const Model &model, uint64_t seed) {
  std::vector<ParamInfo> infos = parameterList(model);
  Params<T> params(infos.size());
  for (size_t p = 0; p < infos.size(); ++p) {
    const ParamInfo &info = infos[p];
    params[p].assign(info.numel(), T(0));
    if (info.isBias)
      continue;
    double s = xavierScale(info.fanIn, info.fanOut, model.training.xavierMagnitude);
    for (int64_t j = 0; j < info.numel(); ++j)
      params[p][j] = T(xavierValue(seed, p, j, s));
  }
  return params;
}

template <typename T> Params<T> paramsFromModel(const Model &model) {
  std::vector<ParamInfo> infos = parameterList(model);
  require(model.weights.size() == infos.size(),
          "paramsFromModel: model has " + std::to_string(model.weights.size()) +
              " weight tensors, expected " + std::to_string(infos.size()));
  Params<T> params(infos.size());
  for (size_t p = 0; p < infos.size(); ++p) {
    const std::vector<float> &data = model.weights[p].data;
    require(int64_t(data.size()) == infos[p].numel(),
            "paramsFromModel: wrong size for " + infos[p].name);
    params[p].assign(data.begin(), data.end());
  }
  return params;
}

std::vector<TensorData> paramsToTensors(const Model &model, const Params<float> &params) {
  std::vector<ParamInfo> infos = parameterList(model);
  require(params.size() == infos.size(), "paramsToTensors: wrong number of parameters");
  std::vector<TensorData> tensors;
  for (size_t p = 0; p < infos.size(); ++p)
    tensors.push_back(TensorData{infos[p].name, infos[p].shape, params[p]});
  return tensors;
}

//===----------------------------------------------------------------------===//
// Interpreter
//===----------------------------------------------------------------------===//

template <typename T> Interpreter<T>::Interpreter(const Model &model) : model_(model) {
  Expected<std::vector<Shape>> shapes = inferShapes(model_, 1);
  require(bool(shapes), shapes ? "" : "invalid model: " + shapes.message());
  paramInfo_ = parameterList(model_);
  paramIndex_.assign(model_.layers.size(), -1);
  for (size_t p = 0; p < paramInfo_.size(); ++p)
    if (!paramInfo_[p].isBias)
      paramIndex_[paramInfo_[p].layer] = int(p);
}

template <typename T> const std::vector<T> &Interpreter<T>::layerInput(int layer) const {
  return layer == 0 ? input_ : acts_[layer - 1];
}

template <typename T> const std::vector<T> &Interpreter<T>::activation(int layer) const {
  require(layer >= 0 && layer < int(acts_.size()), "activation: no such layer output");
  return acts_[layer];
}

template <typename T> const Shape &Interpreter<T>::activationShape(int layer) const {
  require(layer >= 0 && layer < int(shapes_.size()), "activationShape: no such layer output");
  return shapes_[layer];
}

template <typename T>
const std::vector<T> &Interpreter<T>::forward(const Params<T> &params, const T *images,
                                              int64_t batch, const RunOptions &opts) {
  Expected<std::vector<Shape>> shapes = inferShapes(model_, batch);
  require(bool(shapes), shapes ? "" : "forward: " + shapes.message());
  require(params.size() == paramInfo_.size(), "forward: wrong number of parameters");
  for (size_t p = 0; p < params.size(); ++p)
    require(int64_t(params[p].size()) == paramInfo_[p].numel(),
            "forward: wrong size for " + paramInfo_[p].name);
  shapes_ = std::move(*shapes);
  opts_ = opts;
  batch_ = batch;
  input_.assign(images, images + numElements(inputShape(model_, batch)));
  acts_.resize(model_.layers.size());
  for (int i = 0; i < int(model_.layers.size()); ++i)
    forwardLayer(i, params);
  return acts_.back();
}

template <typename T> void Interpreter<T>::forwardLayer(int i, const Params<T> &params) {
  const Layer &layer = model_.layers[i];
  const std::vector<T> &x = layerInput(i);
  std::vector<T> &y = acts_[i];
  y.resize(numElements(shapes_[i]));
  Dims in = dimsOf(i == 0 ? inputShape(model_, batch_) : shapes_[i - 1]);
  Dims out = dimsOf(shapes_[i]);
  switch (layer.kind) {
  case OpKind::Conv2D: {
    const Conv2DAttrs &c = layer.conv;
    int p = paramIndex_[i];
    convForward(ConvGeometry{in, out, c.kernel, c.stride, c.padding}, c.relu,
                x.data(), params[p].data(), c.bias ? params[p + 1].data() : nullptr, y.data());
    return;
  }
  case OpKind::ReLU:
    for (size_t e = 0; e < x.size(); ++e)
      y[e] = x[e] > T(0) ? x[e] : T(0);
    return;
  case OpKind::MaxPool2D:
  case OpKind::AvgPool2D:
    poolForward(layer.kind, layer.pool, in, out, x.data(), y.data());
    return;
  case OpKind::GlobalAvgPool:
    for (int64_t p = 0; p < in.planes(); ++p) {
      double sum = 0;
      for (int64_t e = 0; e < in.plane(); ++e)
        sum += x[p * in.plane() + e];
      y[p] = T(sum / double(in.plane()));
    }
    return;
  case OpKind::Dropout:
    for (size_t e = 0; e < x.size(); ++e)
      y[e] = opts_.training
                 ? x[e] * dropoutFactor<T>(opts_, i, layer.dropoutRate, e, x.size() / batch_)
                 : x[e];
    return;
  case OpKind::Flatten: // NCHW row-major is already [N, C*H*W]
    y = x;
    return;
  }
}

/// The rows that count: those with a label (a padded row of a short last
/// batch has label kIgnoreLabel); at least 1, so an all-padding batch has
/// loss and gradient 0.
static double countedRows(const int32_t *labels, int64_t batch, int64_t classes,
                          const char *what) {
  int64_t rows = 0;
  for (int64_t n = 0; n < batch; ++n) {
    require(labels[n] == kIgnoreLabel || (labels[n] >= 0 && labels[n] < classes),
            std::string(what) + ": label out of range");
    rows += labels[n] != kIgnoreLabel;
  }
  return double(std::max<int64_t>(rows, 1));
}

template <typename T> double Interpreter<T>::loss(const int32_t *labels) const {
  require(!acts_.empty(), "loss: no forward pass yet");
  const std::vector<T> &z = acts_.back();
  const int64_t k = model_.numClasses;
  const double rows = countedRows(labels, batch_, k, "loss");
  double sum = 0;
  for (int64_t n = 0; n < batch_; ++n)
    if (labels[n] != kIgnoreLabel)
      sum += logSumExp(z.data() + n * k, k) - double(z[n * k + labels[n]]);
  return sum / rows;
}

template <typename T> std::vector<int32_t> Interpreter<T>::predictions() const {
  require(!acts_.empty(), "predictions: no forward pass yet");
  const std::vector<T> &z = acts_.back();
  const int64_t k = model_.numClasses;
  std::vector<int32_t> out(batch_);
  for (int64_t n = 0; n < batch_; ++n)
    out[n] = int32_t(std::max_element(z.begin() + n * k, z.begin() + (n + 1) * k) -
                     (z.begin() + n * k));
  return out;
}

/// d(mean loss)/d(logits) = (softmax(z) - onehot(label)) / rows, 0 in
/// ignored rows.
template <typename T>
std::vector<T> Interpreter<T>::logitsGradient(const int32_t *labels) const {
  const std::vector<T> &z = acts_.back();
  const int64_t k = model_.numClasses;
  const double rows = countedRows(labels, batch_, k, "backward");
  std::vector<T> dz(z.size(), T(0));
  for (int64_t n = 0; n < batch_; ++n) {
    if (labels[n] == kIgnoreLabel)
      continue;
    const T *zn = z.data() + n * k;
    double lse = logSumExp(zn, k);
    for (int64_t j = 0; j < k; ++j)
      dz[n * k + j] =
          T((std::exp(double(zn[j]) - lse) - (j == labels[n] ? 1.0 : 0.0)) / rows);
  }
  return dz;
}

template <typename T>
void Interpreter<T>::backward(const Params<T> &params, const int32_t *labels, Params<T> &grads,
                              std::vector<T> *inputGrad) {
  require(!acts_.empty(), "backward: no forward pass yet");
  grads.resize(params.size());
  for (size_t p = 0; p < params.size(); ++p)
    grads[p].assign(params[p].size(), T(0));
  std::vector<T> gradOut = logitsGradient(labels);
  for (int i = int(model_.layers.size()) - 1; i >= 0; --i) {
    // The first layer's input gradient is only computed when asked for.
    bool wantGradIn = i > 0 || inputGrad;
    std::vector<T> gradIn;
    if (wantGradIn)
      gradIn.assign(layerInput(i).size(), T(0));
    backwardLayer(i, params, gradOut, wantGradIn ? &gradIn : nullptr, grads);
    gradOut = std::move(gradIn);
  }
  if (inputGrad)
    *inputGrad = std::move(gradOut);
}

/// Propagates gradOut (d loss / d output of layer i; may be modified) into
/// gradIn (zero-filled, or null when not needed) and the layer's parameters.
template <typename T>
void Interpreter<T>::backwardLayer(int i, const Params<T> &params, std::vector<T> &gradOut,
                                   std::vector<T> *gradIn, Params<T> &grads) const {
  const Layer &layer = model_.layers[i];
  const std::vector<T> &x = layerInput(i);
  const std::vector<T> &y = acts_[i];
  Dims in = dimsOf(i == 0 ? inputShape(model_, batch_) : shapes_[i - 1]);
  Dims out = dimsOf(shapes_[i]);
  switch (layer.kind) {
  case OpKind::Conv2D: {
    const Conv2DAttrs &c = layer.conv;
    ConvGeometry g{in, out, c.kernel, c.stride, c.padding};
    int p = paramIndex_[i];
    if (c.relu)
      reluMaskGrad(y, gradOut);
    convParamGrads(g, x.data(), gradOut.data(), grads[p].data(),
                   c.bias ? grads[p + 1].data() : nullptr);
    if (gradIn)
      convInputGrad(g, gradOut.data(), params[p].data(), gradIn->data());
    return;
  }
  case OpKind::ReLU:
    if (gradIn) {
      reluMaskGrad(y, gradOut);
      *gradIn = gradOut;
    }
    return;
  case OpKind::MaxPool2D:
  case OpKind::AvgPool2D:
    if (gradIn)
      poolBackward(layer.kind, layer.pool, in, out, x.data(), gradOut.data(), gradIn->data());
    return;
  case OpKind::GlobalAvgPool:
    if (gradIn)
      for (int64_t p = 0; p < in.planes(); ++p)
        for (int64_t e = 0; e < in.plane(); ++e)
          (*gradIn)[p * in.plane() + e] = gradOut[p] / T(in.plane());
    return;
  case OpKind::Dropout:
    if (gradIn)
      for (size_t e = 0; e < x.size(); ++e)
        (*gradIn)[e] = opts_.training
                           ? gradOut[e] * dropoutFactor<T>(opts_, i, layer.dropoutRate, e,
                                                           x.size() / batch_)
                           : gradOut[e];
    return;
  case OpKind::Flatten:
    if (gradIn)
      *gradIn = gradOut;
    return;
  }
}

//===----------------------------------------------------------------------===//
// SGD
//===----------------------------------------------------------------------===//

template <typename T>
void sgdUpdate(Params<T> &params, const Params<T> &grads, Params<T> &velocity,
               const SgdConfig &cfg) {
  require(grads.size() == params.size(), "sgdUpdate: gradients do not match parameters");
  const T lr = cfg.learningRate, mom = cfg.momentum, wd = cfg.weightDecay;
  if (mom != T(0) && velocity.size() != params.size()) {
    velocity.resize(params.size());
    for (size_t p = 0; p < params.size(); ++p)
      velocity[p].assign(params[p].size(), T(0));
  }
  for (size_t p = 0; p < params.size(); ++p) {
    require(grads[p].size() == params[p].size(), "sgdUpdate: gradient size mismatch");
    for (size_t e = 0; e < params[p].size(); ++e) {
      T g = grads[p][e] + wd * params[p][e];
      if (mom != T(0)) {
        velocity[p][e] = mom * velocity[p][e] + g;
        g = velocity[p][e];
      }
      params[p][e] -= lr * g;
    }
  }
}

template <typename T>
double trainStep(Interpreter<T> &interp, Params<T> &params, Params<T> &velocity,
                 const T *images, const int32_t *labels, int64_t batch, const SgdConfig &cfg,
                 uint64_t dropoutSeed, uint64_t step, uint64_t firstImage,
                 const std::function<void(Params<T> &)> &syncGradients) {
  interp.forward(params, images, batch, RunOptions{true, dropoutSeed, step, firstImage});
  double loss = interp.loss(labels);
  Params<T> grads;
  interp.backward(params, labels, grads, nullptr);
  if (syncGradients)
    syncGradients(grads);
  sgdUpdate(params, grads, velocity, cfg);
  return loss;
}

//===----------------------------------------------------------------------===//
// Instantiations
//===----------------------------------------------------------------------===//

#define NINC_INSTANTIATE(T)                                                             \
  template Params<T> initParams<T>(const Model &, uint64_t);                             \
  template Params<T> paramsFromModel<T>(const Model &);                                  \
  template class Interpreter<T>;                                                         \
  template void sgdUpdate<T>(Params<T> &, const Params<T> &, Params<T> &,                 \
                             const SgdConfig &);                                         \
  template double trainStep<T>(Interpreter<T> &, Params<T> &, Params<T> &, const T *,    \
                               const int32_t *, int64_t, const SgdConfig &, uint64_t,    \
                               uint64_t, uint64_t,                                       \
                               const std::function<void(Params<T> &)> &);
NINC_INSTANTIATE(float)
NINC_INSTANTIATE(double)
#undef NINC_INSTANTIATE

} // namespace ninc::reference
