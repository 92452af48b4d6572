//===- runtime/cuda/DeviceTrain.cpp - ninc_train_step for CUDA programs ----===//
//
// Like DeviceInfer.cpp for the training step (rt::TrainBackend's contract):
// the batch, labels, weights, velocities and hyper-parameters go to the
// GPU, the generated step updates weights and velocities there, and they
// come back with the loss and logits, so the host training loop, its
// checkpoints and resume are those of CPU programs. (Keeping the weights on
// the GPU across steps is the next step; the copies cost two blob sizes
// each way per step.)
//
//===----------------------------------------------------------------------===//
#include "runtime/cuda/Device.h"

using namespace ninc::cuda;

extern "C" void ninc_device_train_step(const float *input, const int32_t *labels, float *weights,
                                       float *velocity, const float *hyper, uint64_t seed,
                                       uint64_t step, float *loss, float *logits, uint8_t *arena);

namespace {

struct TrainBuffers {
  size_t inputBytes, labelBytes, blobBytes, logitBytes;
  CUdeviceptr input, labels, weights, velocity, hyper, loss, logits, arena;

  TrainBuffers() {
    const ninc::rt::ModelDescriptor &d = descriptor();
    inputBytes = size_t(d.batch * d.channels * d.height * d.width) * sizeof(float);
    labelBytes = size_t(d.batch) * sizeof(int32_t);
    blobBytes = size_t(d.blobSize) * sizeof(float);
    logitBytes = size_t(d.batch * d.classes) * sizeof(float);
    input = allocate(inputBytes, "the input batch");
    labels = allocate(labelBytes, "the labels");
    weights = allocate(blobBytes, "the weights");
    velocity = allocate(blobBytes, "the velocities");
    hyper = allocate(3 * sizeof(float), "the hyper-parameters");
    loss = allocate(sizeof(float), "the loss");
    logits = allocate(logitBytes, "the logits");
    arena = allocate(size_t(d.trainArenaBytes), "the training step's intermediates");
  }
};

} // namespace

extern "C" void ninc_train_step(const float *input, const int32_t *labels, float *weights,
                                float *velocity, const float *hyper, uint64_t seed, uint64_t step,
                                float *loss, float *logits, uint8_t * /*host arena*/) {
  static TrainBuffers b;
  const Driver &d = driver();
  check(d.cuMemcpyHtoD(b.input, input, b.inputBytes), "copying the batch to the GPU");
  check(d.cuMemcpyHtoD(b.labels, labels, b.labelBytes), "copying the labels to the GPU");
  check(d.cuMemcpyHtoD(b.weights, weights, b.blobBytes), "copying the weights to the GPU");
  check(d.cuMemcpyHtoD(b.velocity, velocity, b.blobBytes), "copying the velocities to the GPU");
  check(d.cuMemcpyHtoD(b.hyper, hyper, 3 * sizeof(float)), "copying the hyper-parameters");
  ninc_device_train_step(ptr<const float>(b.input), ptr<const int32_t>(b.labels),
                         ptr<float>(b.weights), ptr<float>(b.velocity), ptr<const float>(b.hyper),
                         seed, step, ptr<float>(b.loss), ptr<float>(b.logits),
                         ptr<uint8_t>(b.arena));
  check(d.cuCtxSynchronize(), "running the training step's kernels");
  check(d.cuMemcpyDtoH(weights, b.weights, b.blobBytes), "copying the weights from the GPU");
  check(d.cuMemcpyDtoH(velocity, b.velocity, b.blobBytes), "copying the velocities from the GPU");
  check(d.cuMemcpyDtoH(loss, b.loss, sizeof(float)), "copying the loss from the GPU");
  check(d.cuMemcpyDtoH(logits, b.logits, b.logitBytes), "copying the logits from the GPU");
}
