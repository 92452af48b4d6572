//===- runtime/cuda/DeviceTrain.cpp - ninc_train_step for CUDA programs ----===//
//
// Like DeviceInfer.cpp for the training step (rt::TrainBackend's contract):
// the batch and labels go to the GPU through page-locked staging buffers,
// the generated step updates weights and velocities there, and the loss and
// logits come back the same way, all on the runtime's stream with one
// cuStreamSynchronize per step. Weights and velocities are DeviceInfer.cpp's
// DeviceBlob: uploaded and downloaded every step for plain ABI callers, kept
// on the GPU across steps (uploaded once, written back when the host asks,
// ninc_device_sync_weights) for runtime/program/Main.cpp, which promises the
// resident protocol; the host training loop, its checkpoints and resume are
// those of CPU programs either way.
//
// The hyper-parameters are read by the generated host code, which passes
// their values (and whether the momentum is 0) to the update kernels as
// launch arguments, so they are passed in page-locked memory, which the
// host reads directly and kernels could too (unified addressing).
//
// The step is not captured into a CUDA graph: its kernels take the dropout
// seed and the step number as scalar launch arguments (the host code
// derives them from `seed` and `step`; the hyper-parameters too), which
// change every step and which a graph would freeze at the captured values. Updating them in an
// instantiated graph (cuGraphExecKernelNodeSetParams) would need to know
// which argument of which kernel they are, which only the compiler does.
//
//===----------------------------------------------------------------------===//
#include "runtime/cuda/Device.h"

#include <cstring>

using namespace ninc::cuda;

extern "C" void ninc_device_train_step(const float *input, const int32_t *labels, float *weights,
                                       float *velocity, const float *hyper, uint64_t seed,
                                       uint64_t step, uint64_t firstImage, float *loss,
                                       float *logits, uint8_t *arena);

namespace {

constexpr size_t kHyper = 3; // learning rate, momentum, weight decay

struct Step {
  size_t inputBytes, labelBytes, logitBytes;
  float *stagedInput, *stagedLogits, *stagedLoss, *hyper; // page-locked
  int32_t *stagedLabels;
  CUdeviceptr input, labels, loss, logits, arena;

  Step() {
    const ninc::rt::ModelDescriptor &d = descriptor();
    const size_t inputCount = size_t(d.batch * d.channels * d.height * d.width);
    const size_t logitCount = size_t(d.batch * d.classes);
    inputBytes = inputCount * sizeof(float);
    labelBytes = size_t(d.batch) * sizeof(int32_t);
    logitBytes = logitCount * sizeof(float);
    stagedInput = allocatePinned<float>(inputCount, "the input batch");
    stagedLabels = allocatePinned<int32_t>(size_t(d.batch), "the labels");
    stagedLogits = allocatePinned<float>(logitCount, "the logits");
    stagedLoss = allocatePinned<float>(1, "the loss");
    hyper = allocatePinned<float>(kHyper, "the hyper-parameters");
    input = allocate(inputBytes, "the input batch");
    labels = allocate(labelBytes, "the labels");
    loss = allocate(sizeof(float), "the loss");
    logits = allocate(logitBytes, "the logits");
    arena = allocate(size_t(d.trainArenaBytes), "the training step's intermediates");
  }
};

} // namespace

extern "C" void ninc_train_step(const float *input, const int32_t *labels, float *weights,
                                float *velocity, const float *hyper, uint64_t seed, uint64_t step,
                                uint64_t firstImage, float *loss, float *logits,
                                uint8_t * /*host arena*/) {
  static Step s;
  const Driver &d = driver();
  CUstream st = stream();
  std::memcpy(s.stagedInput, input, s.inputBytes);
  std::memcpy(s.stagedLabels, labels, s.labelBytes);
  // The last step synchronised, so nothing reads these buffers any more.
  std::memcpy(s.hyper, hyper, kHyper * sizeof(float));
  check(d.cuMemcpyHtoDAsync(s.input, s.stagedInput, s.inputBytes, st),
        "copying the batch to the GPU");
  check(d.cuMemcpyHtoDAsync(s.labels, s.stagedLabels, s.labelBytes, st),
        "copying the labels to the GPU");
  CUdeviceptr deviceWeights, deviceVelocity;
  blob().forStep(weights, velocity, deviceWeights, deviceVelocity);
  ninc_device_train_step(ptr<const float>(s.input), ptr<const int32_t>(s.labels),
                         ptr<float>(deviceWeights), ptr<float>(deviceVelocity), s.hyper, seed,
                         step, firstImage, ptr<float>(s.loss), ptr<float>(s.logits),
                         ptr<uint8_t>(s.arena));
  check(d.cuMemcpyDtoHAsync(s.stagedLoss, s.loss, sizeof(float), st),
        "copying the loss from the GPU");
  check(d.cuMemcpyDtoHAsync(s.stagedLogits, s.logits, s.logitBytes, st),
        "copying the logits from the GPU");
  blob().stepped(weights, velocity);
  check(d.cuStreamSynchronize(st), "running the training step's kernels");
  *loss = *s.stagedLoss;
  std::memcpy(logits, s.stagedLogits, s.logitBytes);
}
