//===- runtime/capi/CApi.cpp - C API of a compiled model -----------------===//
//
// Implements runtime/include/ninc.h over the generated ninc_infer(),
// ninc_descriptor and, in a library compiled with --mode=train,
// ninc_train_step() and ninc_spec: checks every argument, never throws or
// aborts.
//
//===----------------------------------------------------------------------===//

#include "runtime/include/ninc.h"
#include "runtime/program/Arena.h"
#include "runtime/program/Checkpoint.h"
#include "runtime/program/Descriptor.h"
#include "runtime/program/Generated.h"
#include "runtime/program/Weights.h"
#include "runtime/support/Labels.h"

#include <cmath>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace {
bool canTrain(const ninc::rt::ModelDescriptor &d) {
  return ninc_train_step && d.trainArenaBytes > 0;
}
} // namespace

struct ninc_model {
  explicit ninc_model(const ninc::rt::ModelDescriptor &d)
      : desc(d), arena(canTrain(d) ? std::max(d.arenaBytes, d.trainArenaBytes) : d.arenaBytes),
        hyper{d.learningRate, d.momentum, d.weightDecay} {}
  ninc::rt::ModelDescriptor desc;
  ninc::rt::Arena arena;
  std::vector<float> weights, velocity, input, logits;
  std::vector<int32_t> labels;
  /// The arena holds the packed weights of `weights` (ninc_infer's repack):
  /// cleared when they change (new weights, a training step).
  bool packed = false;
  float hyper[3];      ///< Learning rate, momentum, weight decay.
  uint64_t steps = 0;  ///< Training steps taken (the dropout masks' counter).
};

namespace {

thread_local std::string lastError;

int failWith(const std::string &message) {
  lastError = message;
  return -1;
}

} // namespace

extern "C" {

ninc_model *ninc_model_create(void) {
  auto desc = ninc::rt::parseDescriptor(ninc_descriptor);
  if (!desc) {
    failWith("ninc: internal error: " + desc.message());
    return nullptr;
  }
  if (ninc::Status cpu = ninc::rt::checkCpuCanRun(*desc); !cpu) {
    failWith("ninc: " + cpu.message());
    return nullptr;
  }
  auto *m = new (std::nothrow) ninc_model(*desc);
  if (!m || !m->arena.data()) {
    delete m;
    failWith("ninc: out of memory");
    return nullptr;
  }
  std::string origin;
  auto weights = ninc::rt::defaultWeights(m->desc, origin);
  if (!weights) {
    delete m;
    failWith(weights.message());
    return nullptr;
  }
  m->weights = std::move(*weights);
  m->input.resize(m->desc.batch * m->desc.channels * m->desc.height * m->desc.width);
  m->logits.resize(m->desc.batch * m->desc.classes);
  lastError.clear();
  return m;
}

void ninc_model_destroy(ninc_model *model) { delete model; }

int ninc_model_load_weights(ninc_model *model, const char *path) {
  if (!model || !path)
    return failWith("ninc_model_load_weights: model and path must not be NULL");
  auto blob = ninc::rt::loadWeights(path, model->desc);
  if (!blob)
    return failWith(blob.message());
  model->weights = std::move(*blob);
  model->packed = false;
  return 0;
}

const char *ninc_model_name(const ninc_model *model) {
  return model ? model->desc.model.c_str() : "";
}

int ninc_model_batch(const ninc_model *model) { return model ? int(model->desc.batch) : -1; }

int ninc_model_input_shape(const ninc_model *model, int *channels, int *height, int *width) {
  if (!model || !channels || !height || !width)
    return failWith("ninc_model_input_shape: arguments must not be NULL");
  *channels = int(model->desc.channels);
  *height = int(model->desc.height);
  *width = int(model->desc.width);
  return 0;
}

int ninc_model_classes(const ninc_model *model) { return model ? int(model->desc.classes) : -1; }

int ninc_model_run(ninc_model *model, const float *images, int n, float *logits) {
  if (!model || !images || !logits)
    return failWith("ninc_model_run: arguments must not be NULL");
  if (n < 1 || n > model->desc.batch)
    return failWith("ninc_model_run: expected 1.." + std::to_string(model->desc.batch) +
                    " images (the compiled batch), found " + std::to_string(n));
  const size_t image = model->desc.channels * model->desc.height * model->desc.width;
  std::fill(model->input.begin(), model->input.end(), 0.0f);
  std::memcpy(model->input.data(), images, sizeof(float) * image * n);
  ninc_infer(model->input.data(), model->weights.data(), model->logits.data(),
             model->arena.data(), !model->packed);
  model->packed = true;
  std::memcpy(logits, model->logits.data(), sizeof(float) * model->desc.classes * n);
  return 0;
}

int ninc_model_can_train(const ninc_model *model) {
  return model && canTrain(model->desc) ? 1 : 0;
}

int ninc_model_set_hyperparameters(ninc_model *model, float learning_rate, float momentum,
                                   float weight_decay) {
  if (!model)
    return failWith("ninc_model_set_hyperparameters: model must not be NULL");
  if (!std::isfinite(learning_rate) || learning_rate <= 0 || !std::isfinite(momentum) ||
      momentum < 0 || momentum >= 1 || !std::isfinite(weight_decay) || weight_decay < 0)
    return failWith("ninc_model_set_hyperparameters: expected learning_rate > 0, 0 <= momentum "
                    "< 1 and weight_decay >= 0, found " + std::to_string(learning_rate) + ", " +
                    std::to_string(momentum) + ", " + std::to_string(weight_decay));
  model->hyper[0] = learning_rate, model->hyper[1] = momentum, model->hyper[2] = weight_decay;
  return 0;
}

int ninc_model_train_step(ninc_model *model, const float *images, const int *labels, int n,
                          float *loss) {
  if (!model || !images || !labels)
    return failWith("ninc_model_train_step: model, images and labels must not be NULL");
  const ninc::rt::ModelDescriptor &d = model->desc;
  if (!canTrain(d))
    return failWith("ninc_model_train_step: model '" + d.model +
                    "' was compiled for inference only (ninc compile --mode=train --emit=lib)");
  if (n < 1 || n > d.batch)
    return failWith("ninc_model_train_step: expected 1.." + std::to_string(d.batch) +
                    " images (the compiled batch), found " + std::to_string(n));
  for (int i = 0; i < n; ++i)
    if (labels[i] < 0 || labels[i] >= d.classes)
      return failWith("ninc_model_train_step: labels[" + std::to_string(i) + "] is " +
                      std::to_string(labels[i]) + ", expected 0.." +
                      std::to_string(d.classes - 1));
  if (model->velocity.empty())
    model->velocity.assign(d.blobSize, 0.0f);
  const size_t image = d.channels * d.height * d.width;
  // A short batch is padded with zero images that the step ignores.
  if (n < d.batch)
    std::fill(model->input.begin() + image * n, model->input.end(), 0.0f);
  std::memcpy(model->input.data(), images, sizeof(float) * image * n);
  model->labels.assign(d.batch, ninc::kIgnoreLabel);
  std::copy(labels, labels + n, model->labels.begin());
  float stepLoss = 0;
  ninc_train_step(model->input.data(), model->labels.data(), model->weights.data(),
                  model->velocity.data(), model->hyper, d.seed, model->steps,
                  /*firstImage=*/0, &stepLoss,
                  model->logits.data(), model->arena.data());
  ++model->steps;
  model->packed = false; // new weights, and the step used the arena
  if (loss)
    *loss = stepLoss;
  if (!std::isfinite(stepLoss))
    return failWith("ninc_model_train_step: the loss is not finite (" +
                    std::to_string(stepLoss) + "): training diverged; lower the learning rate");
  return 0;
}

long ninc_model_num_weights(const ninc_model *model) {
  if (!model)
    return -1;
  long total = 0;
  for (const ninc::rt::ParamSlot &slot : model->desc.params)
    total += long(slot.numel());
  return total;
}

int ninc_model_num_params(const ninc_model *model) {
  return model ? int(model->desc.params.size()) : -1;
}

const char *ninc_model_param_name(const ninc_model *model, int i, long *size) {
  if (!model || i < 0 || size_t(i) >= model->desc.params.size()) {
    failWith("ninc_model_param_name: no parameter " + std::to_string(i));
    return nullptr;
  }
  if (size)
    *size = long(model->desc.params[i].numel());
  return model->desc.params[i].name.c_str();
}

int ninc_model_get_weights(const ninc_model *model, float *values, long count) {
  if (!model || !values)
    return failWith("ninc_model_get_weights: arguments must not be NULL");
  if (count != ninc_model_num_weights(model))
    return failWith("ninc_model_get_weights: expected room for " +
                    std::to_string(ninc_model_num_weights(model)) + " floats, found " +
                    std::to_string(count));
  for (const ninc::rt::ParamSlot &slot : model->desc.params) {
    ninc::rt::unpackParam(slot, model->weights.data(), values);
    values += slot.numel();
  }
  return 0;
}

int ninc_model_set_weights(ninc_model *model, const float *values, long count) {
  if (!model || !values)
    return failWith("ninc_model_set_weights: arguments must not be NULL");
  if (count != ninc_model_num_weights(model))
    return failWith("ninc_model_set_weights: expected " +
                    std::to_string(ninc_model_num_weights(model)) + " floats, found " +
                    std::to_string(count));
  for (long j = 0; j < count; ++j)
    if (!std::isfinite(values[j]))
      return failWith("ninc_model_set_weights: values[" + std::to_string(j) +
                      "] is not finite");
  for (const ninc::rt::ParamSlot &slot : model->desc.params) {
    ninc::rt::packParam(slot, values, model->weights.data());
    values += slot.numel();
  }
  model->packed = false;
  return 0;
}

int ninc_model_save(const ninc_model *model, const char *path) {
  if (!model || !path)
    return failWith("ninc_model_save: model and path must not be NULL");
  if (!ninc_spec)
    return failWith(std::string(path) + ": error: this library does not carry its model's "
                    "spec (compiled by an older ninc); cannot write a model file");
  const std::string bytes = ninc::rt::encodeModelFile(
      std::string_view(reinterpret_cast<const char *>(ninc_spec), ninc_spec_size), model->desc,
      model->weights.data());
  if (ninc::Status s = ninc::rt::writeFileAtomically(path, bytes, "model file"); !s)
    return failWith(s.message());
  return 0;
}

const char *ninc_last_error(void) { return lastError.c_str(); }

} // extern "C"
