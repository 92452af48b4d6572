//===- runtime/cuda/DeviceInfer.cpp - ninc_infer for CUDA programs ---------===//
//
// The compiled CUDA function, ninc_device_infer, takes device pointers; this
// ninc_infer (the ABI runtime/program/Main.cpp and the training loop call)
// keeps device buffers for the input, weights, logits and the memory plan's
// arena (sizes from the descriptor), copies the batch in, runs the kernels
// and copies the logits out. The host arena argument is unused.
//
// Copies. Everything is enqueued on the runtime's one non-blocking stream
// (Device.h's stream()) and the call ends with one cuStreamSynchronize. The
// batch and the logits go through page-locked staging buffers (memcpy into
// them, then cuMemcpyHtoDAsync / cuMemcpyDtoHAsync), so the DMA needs no
// driver-side staging; the weights blob is copied from the caller's buffer.
//
// Weights on the GPU (DeviceBlob). The device holds one copy of the weights
// blob, shared with ninc_train_step (DeviceTrain.cpp), which adds the
// velocities. Whether it can be reused depends on what the caller promises:
//  - By default (every caller of the plain ABI, such as the C API,
//    runtime/capi/CApi.cpp, once --target=cuda --emit=lib is built: its
//    ninc_model_load_weights may reuse the address of freed weights, and
//    its users may edit weights in place):
//    ninc_infer uploads the weights on every call, and ninc_train_step
//    uploads weights and velocities and downloads them after every step.
//    The host buffers are always current, as in CPU programs.
//  - After ninc_device_keep_weights() (runtime/program/Main.cpp calls it
//    when it starts): the caller promises that host weights and velocity
//    buffers passed to these functions change only through ninc_train_step,
//    that it calls ninc_device_sync_weights() before it reads them after a
//    step (the training loop does before its finiteness check, its
//    checkpoints and its result: rt::TrainBackend::sync), and that buffers
//    passed to a step stay alive while later calls may pass others. Then
//    the device copies remember which host buffers they mirror: a call with
//    the same weights (and velocity) pointers as the last one uploads
//    nothing, a call with others uploads those (after writing newer device
//    copies back to the buffers they mirror, hence the last promise), and a
//    step leaves the newer values on the GPU. Pointers, not contents, are
//    compared, which is why the promise is needed. So training uploads the
//    blobs once, downloads them once an epoch (for the checks and
//    checkpoints), and the evaluation between (ninc_infer with the
//    training weights' pointer) runs on the device copy; `bench` uploads
//    once too.
//
// CUDA graphs. The generated host code launches one kernel per op, each
// with a handful of driver calls; graphs replace them with one
// cuGraphLaunch. The first call runs uncaptured (it loads the modules and
// looks up the kernels, which a capture cannot do: Mgpu.cpp caches them).
// The second captures ninc_device_infer's launches on the stream
// (thread-local mode) into a graph, instantiates it and launches it; every
// later call launches it. That is correct because the launches never
// change: their arguments are the device buffers (allocated once, never
// moved) and constants, and the host code computes nothing from the data.
// If the generated code does something a graph cannot hold while it is
// captured (an allocation, an event wait: Mgpu.cpp's leaveCapture), the
// capture is discarded, the call runs uncaptured and graphs stay off.
// The training step is never captured: its kernels take the dropout seed
// and the step number as scalar launch arguments (computed by the host code
// from `seed` and `step`), which a graph would freeze at the captured
// values; see DeviceTrain.cpp. NINC_CUDA_GRAPHS=0 in the environment turns
// graphs off (for debugging: every call then runs as the first one does).
//
//===----------------------------------------------------------------------===//
#include "runtime/cuda/Device.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace ninc::cuda;

extern "C" {
/// The generated host function; its repack flag (the CPU target's packed
/// weights) is unused by the CUDA kernels.
void ninc_device_infer(const float *input, const float *weights, float *logits, uint8_t *arena,
                       int32_t repack);
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

//===----------------------------------------------------------------------===//
// DeviceBlob
//===----------------------------------------------------------------------===//

DeviceBlob &blob() {
  static DeviceBlob b;
  return b;
}

CUdeviceptr DeviceBlob::weights() {
  if (!weights_) {
    bytes_ = size_t(descriptor().blobSize) * sizeof(float);
    weights_ = allocate(bytes_, "the weights");
  }
  return weights_;
}

CUdeviceptr DeviceBlob::weightsFor(const float *host) {
  weights();
  if (keep_ && host == hostWeights_)
    return weights_;
  if (deviceNewer_)
    syncHost(); // the newer values belong to the mirrored buffers
  check(driver().cuMemcpyHtoDAsync(weights_, host, bytes_, stream()),
        "copying the weights to the GPU");
  // Only a step's writable pointer can become newer than its host buffer
  // (deviceNewer_ is set by stepped()), so mirroring a const one is safe.
  hostWeights_ = keep_ ? const_cast<float *>(host) : nullptr;
  return weights_;
}

void DeviceBlob::forStep(float *hostWeights, float *hostVelocity, CUdeviceptr &deviceWeights,
                         CUdeviceptr &deviceVelocity) {
  weights();
  if (!velocity_)
    velocity_ = allocate(bytes_, "the velocities");
  const bool sameWeights = keep_ && hostWeights == hostWeights_;
  const bool sameVelocity = keep_ && hostVelocity == hostVelocity_;
  if (deviceNewer_ && (!sameWeights || !sameVelocity))
    syncHost();
  if (!sameWeights)
    weightsFor(hostWeights);
  if (!sameVelocity)
    check(driver().cuMemcpyHtoDAsync(velocity_, hostVelocity, bytes_, stream()),
          "copying the velocities to the GPU");
  hostVelocity_ = keep_ ? hostVelocity : nullptr;
  deviceWeights = weights_;
  deviceVelocity = velocity_;
}

void DeviceBlob::stepped(float *hostWeights, float *hostVelocity) {
  if (keep_) {
    deviceNewer_ = true;
    return;
  }
  const Driver &d = driver();
  check(d.cuMemcpyDtoHAsync(hostWeights, weights_, bytes_, stream()),
        "copying the weights from the GPU");
  check(d.cuMemcpyDtoHAsync(hostVelocity, velocity_, bytes_, stream()),
        "copying the velocities from the GPU");
}

void DeviceBlob::syncHost() {
  if (!deviceNewer_)
    return;
  const Driver &d = driver();
  if (hostWeights_)
    check(d.cuMemcpyDtoHAsync(hostWeights_, weights_, bytes_, stream()),
          "copying the weights from the GPU");
  if (hostVelocity_)
    check(d.cuMemcpyDtoHAsync(hostVelocity_, velocity_, bytes_, stream()),
          "copying the velocities from the GPU");
  check(d.cuStreamSynchronize(stream()), "copying the weights from the GPU");
  deviceNewer_ = false;
}

} // namespace ninc::cuda

namespace {

/// NINC_CUDA_GRAPHS=0 turns graphs off.
bool graphsEnabled() {
  const char *v = std::getenv("NINC_CUDA_GRAPHS");
  return !(v && std::strcmp(v, "0") == 0);
}

struct Inference {
  enum class Graph { WarmUp, Capture, Replay, Off };

  size_t inputBytes, logitBytes;
  float *stagedInput, *stagedLogits; // page-locked
  CUdeviceptr input, weights, logits, arena;
  Graph graph = graphsEnabled() ? Graph::WarmUp : Graph::Off;
  CUgraphExec exec = nullptr;

  Inference() {
    const ninc::rt::ModelDescriptor &d = descriptor();
    const size_t inputCount = size_t(d.batch * d.channels * d.height * d.width);
    const size_t logitCount = size_t(d.batch * d.classes);
    inputBytes = inputCount * sizeof(float);
    logitBytes = logitCount * sizeof(float);
    stagedInput = allocatePinned<float>(inputCount, "the input batch");
    stagedLogits = allocatePinned<float>(logitCount, "the logits");
    input = allocate(inputBytes, "the input batch");
    logits = allocate(logitBytes, "the logits");
    arena = allocate(size_t(d.arenaBytes), "the intermediates (memory plan)");
  }

  void run(CUdeviceptr weights) {
    ninc_device_infer(ptr<const float>(input), ptr<const float>(weights), ptr<float>(logits),
                      ptr<uint8_t>(arena), /*repack=*/1);
  }

  /// Records run()'s launches into `exec`; graphs go off if they cannot be.
  /// Nothing runs: the stream records while it captures.
  void capture(CUdeviceptr weights) {
    beginCapture();
    run(weights);
    CUgraph g = endCapture();
    if (!g) {
      graph = Graph::Off;
      return;
    }
    const Driver &d = driver();
    check(d.cuGraphInstantiateWithFlags(&exec, g, 0),
          "instantiating the kernels' CUDA graph (NINC_CUDA_GRAPHS=0 runs without graphs)");
    check(d.cuGraphDestroy(g), "cuGraphDestroy"); // the instance keeps what it needs
    graph = Graph::Replay;
  }
};

} // namespace

/// Tells runtime/program/Main.cpp that this is a CUDA program.
extern "C" const char *ninc_device_name() { return "cuda"; }

/// The resident protocol (the file comment): runtime/program/Main.cpp's
/// promise, made once before its first call.
extern "C" void ninc_device_keep_weights() { blob().keepResident(); }

/// Writes the GPU's newer weights and velocities back to the host buffers
/// last passed to ninc_train_step (nothing when they are current).
extern "C" void ninc_device_sync_weights() { blob().syncHost(); }

extern "C" void ninc_infer(const float *input, const float *weights, float *logits,
                           uint8_t * /*host arena*/, int32_t /*repack: blob() tracks the weights*/) {
  static Inference s;
  const Driver &d = driver();
  CUstream st = stream();
  // Captured on the idle stream before this call's copies are enqueued:
  // the capture only records (it needs the weights' address, which is
  // fixed, not their values).
  if (s.graph == Inference::Graph::Capture)
    s.capture(blob().weights());
  const CUdeviceptr deviceWeights = blob().weightsFor(weights);
  std::memcpy(s.stagedInput, input, s.inputBytes);
  check(d.cuMemcpyHtoDAsync(s.input, s.stagedInput, s.inputBytes, st),
        "copying the batch to the GPU");
  if (s.graph == Inference::Graph::Replay) {
    check(d.cuGraphLaunch(s.exec, st), "launching the kernels' CUDA graph");
  } else {
    s.run(deviceWeights);
    if (s.graph == Inference::Graph::WarmUp)
      s.graph = Inference::Graph::Capture;
  }
  check(d.cuMemcpyDtoHAsync(s.stagedLogits, s.logits, s.logitBytes, st),
        "copying the logits from the GPU");
  check(d.cuStreamSynchronize(st), "running the kernels");
  std::memcpy(logits, s.stagedLogits, s.logitBytes);
}
