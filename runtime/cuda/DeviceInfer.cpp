//===- runtime/cuda/DeviceInfer.cpp - ninc_infer for CUDA programs ---------===//
//
// The compiled CUDA function, ninc_device_infer, takes device pointers; this
// ninc_infer (the ABI runtime/program/Main.cpp and the training loop call)
// keeps device buffers for the input, weights, logits and the memory plan's
// arena (sizes from the descriptor), copies the batch and the weights in,
// runs the kernels and copies the logits out. The host arena argument is
// unused.
//
//===----------------------------------------------------------------------===//
#include "runtime/cuda/Device.h"

#include <cstdio>
#include <cstdlib>

using namespace ninc::cuda;

extern "C" {
void ninc_device_infer(const float *input, const float *weights, float *logits, uint8_t *arena);
extern const char ninc_descriptor[];
}

namespace ninc::cuda {

CUdeviceptr allocate(size_t bytes, const char *what) {
  constexpr CUresult kOutOfMemory = 2;
  CUdeviceptr p = 0;
  CUresult r = driver().cuMemAlloc(&p, bytes ? bytes : 64);
  if (r == kOutOfMemory) {
    size_t free = 0, total = 0;
    driver().cuMemGetInfo(&free, &total);
    std::fprintf(stderr,
                 "cuda: error: out of GPU memory: %s needs %.1f MiB, %.1f of %.1f MiB are free "
                 "(compile with a smaller --batch)\n",
                 what, bytes / 1048576.0, free / 1048576.0, total / 1048576.0);
    std::exit(1);
  }
  check(r, std::string("allocating GPU memory for ") + what);
  return p;
}

const rt::ModelDescriptor &descriptor() {
  static const rt::ModelDescriptor d = [] {
    auto parsed = rt::parseDescriptor(ninc_descriptor);
    if (!parsed) {
      std::fprintf(stderr, "%s\n", parsed.message().c_str());
      std::exit(1);
    }
    return *parsed;
  }();
  return d;
}

} // namespace ninc::cuda

namespace {

struct InferBuffers {
  size_t inputBytes, weightBytes, logitBytes;
  CUdeviceptr input, weights, logits, arena;

  InferBuffers() {
    const ninc::rt::ModelDescriptor &d = descriptor();
    inputBytes = size_t(d.batch * d.channels * d.height * d.width) * sizeof(float);
    weightBytes = size_t(d.blobSize) * sizeof(float);
    logitBytes = size_t(d.batch * d.classes) * sizeof(float);
    input = allocate(inputBytes, "the input batch");
    weights = allocate(weightBytes, "the weights");
    logits = allocate(logitBytes, "the logits");
    arena = allocate(size_t(d.arenaBytes), "the intermediates (memory plan)");
  }
};

} // namespace

/// Tells runtime/program/Main.cpp that this is a CUDA program.
extern "C" const char *ninc_device_name() { return "cuda"; }

extern "C" void ninc_infer(const float *input, const float *weights, float *logits,
                           uint8_t * /*host arena*/) {
  static InferBuffers b;
  const Driver &d = driver();
  check(d.cuMemcpyHtoD(b.input, input, b.inputBytes), "copying the batch to the GPU");
  check(d.cuMemcpyHtoD(b.weights, weights, b.weightBytes), "copying the weights to the GPU");
  ninc_device_infer(ptr<const float>(b.input), ptr<const float>(b.weights), ptr<float>(b.logits),
                    ptr<uint8_t>(b.arena));
  check(d.cuCtxSynchronize(), "running the kernels");
  check(d.cuMemcpyDtoH(logits, b.logits, b.logitBytes), "copying the logits from the GPU");
}
