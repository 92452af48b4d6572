//===- runtime/capi/CApi.cpp - C API of a compiled model -----------------===//
//
// Implements runtime/include/ninc.h over the generated ninc_infer() and
// ninc_descriptor: checks every argument, never throws or aborts.
//
//===----------------------------------------------------------------------===//

#include "runtime/include/ninc.h"
#include "runtime/program/Arena.h"
#include "runtime/program/Descriptor.h"
#include "runtime/program/Weights.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <vector>

extern "C" {
void ninc_infer(const float *input, const float *weights, float *logits, uint8_t *arena,
                int32_t repack);
extern const char ninc_descriptor[];
}

struct ninc_model {
  explicit ninc_model(const ninc::rt::ModelDescriptor &d) : desc(d), arena(d.arenaBytes) {}
  ninc::rt::ModelDescriptor desc;
  ninc::rt::Arena arena;
  std::vector<float> weights, input, logits;
  /// The arena holds the packed weights of `weights` (ninc_infer's repack):
  /// cleared when they change.
  bool packed = false;
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
  m->weights = ninc::rt::initialWeights(m->desc);
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

const char *ninc_last_error(void) { return lastError.c_str(); }

} // extern "C"
