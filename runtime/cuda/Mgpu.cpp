//===- runtime/cuda/Mgpu.cpp - The mgpu* functions MLIR's gpu-to-llvm calls ===//
//
// MLIR 19 lowers gpu.launch_func, gpu.memcpy and async tokens to calls of
// these C functions (upstream's libmlir_cuda_runtime, which Debian does not
// ship, and which would load and unload the module at every launch). Here a
// module is loaded once per cubin and kept, and each kernel looked up once.
// The generated code creates, synchronises and destroys a stream around
// every launch; here mgpuStreamCreate hands out the runtime's one stream
// (Device.h's stream()), destroying it is a no-op and so is synchronising:
// everything runs in order on that stream, and the callers (DeviceInfer.cpp,
// DeviceTrain.cpp) synchronise once per call and check for kernel faults.
//
// While DeviceInfer.cpp captures the launches into a CUDA graph the stream
// records instead of running, so nothing here may wait for the GPU or
// allocate: the stream functions do neither, and modules and kernels are
// cached by the uncaptured first call. What cannot be captured (a cache
// miss, an allocation, an event wait) first calls leaveCapture(), which
// ends the capture and discards it; the caller then runs uncaptured. The
// capture state is a plain global: the runtime is single-threaded, as the
// generated code's entry points are (they share static device buffers).
//
//===----------------------------------------------------------------------===//
#include "runtime/cuda/Device.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

using namespace ninc::cuda;

extern "C" {
/// Generated (ninc compile --target=cuda): the --gpu-arch the kernels are for.
__attribute__((weak)) extern const char ninc_gpu_arch[];
}

namespace {

constexpr CUresult kNoBinaryForGpu = 209, kUnsupportedPtx = 222;

std::mutex mutex;
std::map<const void *, CUmodule> modules;
std::map<std::pair<CUmodule, std::string>, CUfunction> functions;

enum class Capture { None, Recording, Abandoned };
Capture capture = Capture::None;

/// The stream of an operation: the generated code's streams all come from
/// mgpuStreamCreate, but one it leaves null (the legacy default stream)
/// would not be ordered with the non-blocking runtime stream.
CUstream on(CUstream s) { return s ? s : stream(); }

} // namespace

namespace ninc::cuda {

CUstream stream() {
  static CUstream s = [] {
    CUstream created = nullptr;
    // Non-blocking: no implicit ordering with the legacy default stream,
    // which nothing of the program uses.
    check(driver().cuStreamCreate(&created, kStreamNonBlocking), "creating a CUDA stream");
    return created;
  }();
  return s;
}

void beginCapture() {
  CUstream s = stream();
  check(driver().cuStreamBeginCapture(s, kCaptureModeThreadLocal),
        "capturing the kernels into a CUDA graph (cuStreamBeginCapture; NINC_CUDA_GRAPHS=0 "
        "runs without graphs)");
  capture = Capture::Recording;
}

CUgraph endCapture() {
  const Capture was = capture;
  capture = Capture::None;
  if (was != Capture::Recording)
    return nullptr;
  CUgraph graph = nullptr;
  check(driver().cuStreamEndCapture(stream(), &graph),
        "capturing the kernels into a CUDA graph (cuStreamEndCapture; NINC_CUDA_GRAPHS=0 runs "
        "without graphs)");
  return graph;
}

void leaveCapture() {
  if (capture != Capture::Recording)
    return;
  if (CUgraph graph = endCapture())
    check(driver().cuGraphDestroy(graph), "cuGraphDestroy");
  capture = Capture::Abandoned;
}

} // namespace ninc::cuda

extern "C" {

CUmodule mgpuModuleLoad(void *data, size_t /*size*/) {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = modules.find(data);
  if (it != modules.end())
    return it->second;
  leaveCapture();
  const Driver &d = driver();
  CUmodule module = nullptr;
  CUresult r = d.cuModuleLoadData(&module, data);
  if (r == kNoBinaryForGpu || r == kUnsupportedPtx) {
    std::fprintf(stderr,
                 "cuda: error: the kernels were compiled for %s, which this GPU, %s, cannot "
                 "run (recompile with ninc compile --gpu-arch=sm_XY for this GPU)\n",
                 &ninc_gpu_arch ? ninc_gpu_arch : "another GPU", deviceDescription().c_str());
    std::exit(1);
  }
  check(r, "loading the kernels (cuModuleLoadData)");
  modules[data] = module;
  return module;
}

CUmodule mgpuModuleLoadJIT(void *data, int /*optLevel*/) { return mgpuModuleLoad(data, 0); }

void mgpuModuleUnload(CUmodule) {} // kept until the program ends

// Called before every launch by MLIR's host code: looked up once.
CUfunction mgpuModuleGetFunction(CUmodule module, const char *name) {
  std::lock_guard<std::mutex> lock(mutex);
  CUfunction &f = functions[{module, name}];
  if (!f) {
    leaveCapture();
    check(driver().cuModuleGetFunction(&f, module, name), std::string("finding kernel ") + name);
  }
  return f;
}

void mgpuLaunchKernel(CUfunction f, intptr_t gx, intptr_t gy, intptr_t gz, intptr_t bx,
                      intptr_t by, intptr_t bz, int32_t smem, CUstream stream, void **params,
                      void **extra, size_t /*paramsCount*/) {
  check(driver().cuLaunchKernel(f, unsigned(gx), unsigned(gy), unsigned(gz), unsigned(bx),
                                unsigned(by), unsigned(bz), unsigned(smem), on(stream), params,
                                extra),
        "launching a kernel");
}

CUstream mgpuStreamCreate() { return stream(); }
void mgpuStreamDestroy(CUstream) {}     // the runtime's stream lives until the program ends
void mgpuStreamSynchronize(CUstream) {} // in order on one stream; the caller syncs
void mgpuStreamWaitEvent(CUstream stream, CUevent event) {
  check(driver().cuStreamWaitEvent(on(stream), event, 0), "cuStreamWaitEvent");
}

// Events are created and destroyed outside captures: neither is a stream
// operation a graph can hold.
CUevent mgpuEventCreate() {
  leaveCapture();
  CUevent e = nullptr;
  check(driver().cuEventCreate(&e, /*CU_EVENT_DISABLE_TIMING*/ 2), "cuEventCreate");
  return e;
}
void mgpuEventDestroy(CUevent e) {
  leaveCapture();
  check(driver().cuEventDestroy(e), "cuEventDestroy");
}
void mgpuEventSynchronize(CUevent e) {
  leaveCapture(); // waits for the GPU
  check(driver().cuEventSynchronize(e), "a kernel before this point failed");
}
void mgpuEventRecord(CUevent e, CUstream stream) {
  check(driver().cuEventRecord(e, on(stream)), "cuEventRecord");
}

// A graph replaying launches into memory allocated (and freed) while they
// were captured would use freed memory: allocations end a capture.
void *mgpuMemAlloc(uint64_t bytes, CUstream, bool /*hostShared*/) {
  leaveCapture();
  CUdeviceptr p = 0;
  check(driver().cuMemAlloc(&p, bytes ? bytes : 1),
        "allocating " + std::to_string(bytes) + " bytes of GPU memory");
  return reinterpret_cast<void *>(p);
}
void mgpuMemFree(void *p, CUstream) {
  leaveCapture();
  check(driver().cuMemFree(reinterpret_cast<CUdeviceptr>(p)), "cuMemFree");
}
void mgpuMemcpy(void *dst, void *src, size_t bytes, CUstream stream) {
  check(driver().cuMemcpyDtoDAsync(reinterpret_cast<CUdeviceptr>(dst),
                                   reinterpret_cast<CUdeviceptr>(src), bytes, on(stream)),
        "copying on the GPU");
}
void mgpuMemset32(void *dst, unsigned value, size_t count, CUstream stream) {
  check(driver().cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(dst), value, count, on(stream)),
        "cuMemsetD32Async");
}
void mgpuSetDefaultDevice(int32_t) {}

} // extern "C"
