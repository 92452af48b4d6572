//===- runtime/cuda/Mgpu.cpp - The mgpu* functions MLIR's gpu-to-llvm calls ===//
//
// MLIR 19 lowers gpu.launch_func, gpu.memcpy and async tokens to calls of
// these C functions (upstream's libmlir_cuda_runtime, which Debian does not
// ship, and which would load and unload the module at every launch). Here a
// module is loaded once per cubin and kept, and each kernel looked up once;
// everything runs in order on the
// default stream, so stream synchronisation is left to the caller
// (DeviceInfer.cpp synchronises once per batch and checks for kernel faults).
//
//===----------------------------------------------------------------------===//
#include "runtime/cuda/Driver.h"

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

} // namespace

extern "C" {

CUmodule mgpuModuleLoad(void *data, size_t /*size*/) {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = modules.find(data);
  if (it != modules.end())
    return it->second;
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
  if (!f)
    check(driver().cuModuleGetFunction(&f, module, name), std::string("finding kernel ") + name);
  return f;
}

void mgpuLaunchKernel(CUfunction f, intptr_t gx, intptr_t gy, intptr_t gz, intptr_t bx,
                      intptr_t by, intptr_t bz, int32_t smem, CUstream stream, void **params,
                      void **extra, size_t /*paramsCount*/) {
  check(driver().cuLaunchKernel(f, unsigned(gx), unsigned(gy), unsigned(gz), unsigned(bx),
                                unsigned(by), unsigned(bz), unsigned(smem), stream, params,
                                extra),
        "launching a kernel");
}

CUstream mgpuStreamCreate() { return nullptr; } // the default stream
void mgpuStreamDestroy(CUstream) {}
void mgpuStreamSynchronize(CUstream) {} // in order on one stream; the caller syncs
void mgpuStreamWaitEvent(CUstream stream, CUevent event) {
  check(driver().cuStreamWaitEvent(stream, event, 0), "cuStreamWaitEvent");
}

CUevent mgpuEventCreate() {
  CUevent e = nullptr;
  check(driver().cuEventCreate(&e, /*CU_EVENT_DISABLE_TIMING*/ 2), "cuEventCreate");
  return e;
}
void mgpuEventDestroy(CUevent e) { check(driver().cuEventDestroy(e), "cuEventDestroy"); }
void mgpuEventSynchronize(CUevent e) {
  check(driver().cuEventSynchronize(e), "a kernel before this point failed");
}
void mgpuEventRecord(CUevent e, CUstream stream) {
  check(driver().cuEventRecord(e, stream), "cuEventRecord");
}

void *mgpuMemAlloc(uint64_t bytes, CUstream, bool /*hostShared*/) {
  CUdeviceptr p = 0;
  check(driver().cuMemAlloc(&p, bytes ? bytes : 1),
        "allocating " + std::to_string(bytes) + " bytes of GPU memory");
  return reinterpret_cast<void *>(p);
}
void mgpuMemFree(void *p, CUstream) {
  check(driver().cuMemFree(reinterpret_cast<CUdeviceptr>(p)), "cuMemFree");
}
void mgpuMemcpy(void *dst, void *src, size_t bytes, CUstream stream) {
  check(driver().cuMemcpyDtoDAsync(reinterpret_cast<CUdeviceptr>(dst),
                                   reinterpret_cast<CUdeviceptr>(src), bytes, stream),
        "copying on the GPU");
}
void mgpuMemset32(void *dst, unsigned value, size_t count, CUstream stream) {
  check(driver().cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(dst), value, count, stream),
        "cuMemsetD32Async");
}
void mgpuSetDefaultDevice(int32_t) {}

} // extern "C"
