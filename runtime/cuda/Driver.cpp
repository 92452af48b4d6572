//===- runtime/cuda/Driver.cpp - dlopen of libcuda.so.1 --------------------===//
#include "runtime/cuda/Driver.h"

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <mutex>

namespace ninc::cuda {
namespace {

constexpr CUresult kNoDevice = 100;                 // CUDA_ERROR_NO_DEVICE
constexpr int kComputeCapabilityMajor = 75, kComputeCapabilityMinor = 76;

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "cuda: error: %s\n", message.c_str());
  std::exit(1);
}

template <typename F> void resolve(void *lib, F &fn, const char *name) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn)
    die(std::string("the CUDA driver lacks ") + name + " (driver too old?)");
}

Driver load() {
  void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib)
    die(std::string("this program runs its kernels on an NVIDIA GPU, and the CUDA driver "
                    "(libcuda.so.1) cannot be loaded: ") +
        dlerror() + " (compile with --target=cpu to run on this machine)");
  Driver d{};
  resolve(lib, d.cuInit, "cuInit");
  resolve(lib, d.cuDeviceGetCount, "cuDeviceGetCount");
  resolve(lib, d.cuDeviceGet, "cuDeviceGet");
  resolve(lib, d.cuDeviceGetName, "cuDeviceGetName");
  resolve(lib, d.cuDeviceGetAttribute, "cuDeviceGetAttribute");
  resolve(lib, d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  resolve(lib, d.cuCtxSetCurrent, "cuCtxSetCurrent");
  resolve(lib, d.cuModuleLoadData, "cuModuleLoadData");
  resolve(lib, d.cuModuleGetFunction, "cuModuleGetFunction");
  resolve(lib, d.cuLaunchKernel, "cuLaunchKernel");
  resolve(lib, d.cuMemAlloc, "cuMemAlloc_v2");
  resolve(lib, d.cuMemFree, "cuMemFree_v2");
  resolve(lib, d.cuMemAllocHost, "cuMemAllocHost_v2");
  resolve(lib, d.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
  resolve(lib, d.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
  resolve(lib, d.cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2");
  resolve(lib, d.cuMemsetD32Async, "cuMemsetD32Async");
  resolve(lib, d.cuStreamCreate, "cuStreamCreate");
  resolve(lib, d.cuStreamSynchronize, "cuStreamSynchronize");
  resolve(lib, d.cuStreamBeginCapture, "cuStreamBeginCapture_v2");
  resolve(lib, d.cuStreamEndCapture, "cuStreamEndCapture");
  resolve(lib, d.cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags");
  resolve(lib, d.cuGraphLaunch, "cuGraphLaunch");
  resolve(lib, d.cuGraphDestroy, "cuGraphDestroy");
  resolve(lib, d.cuEventCreate, "cuEventCreate");
  resolve(lib, d.cuEventDestroy, "cuEventDestroy_v2");
  resolve(lib, d.cuEventRecord, "cuEventRecord");
  resolve(lib, d.cuEventSynchronize, "cuEventSynchronize");
  resolve(lib, d.cuStreamWaitEvent, "cuStreamWaitEvent");
  resolve(lib, d.cuGetErrorString, "cuGetErrorString");
  resolve(lib, d.cuMemGetInfo, "cuMemGetInfo_v2");
  return d;
}

Driver *instance = nullptr;

} // namespace

void check(CUresult r, const std::string &what) {
  if (r == 0)
    return;
  const char *text = nullptr;
  if (instance && instance->cuGetErrorString)
    instance->cuGetErrorString(r, &text);
  die(what + ": " + (text ? text : "error " + std::to_string(r)));
}

const Driver &driver() {
  static std::once_flag once;
  std::call_once(once, [] {
    static Driver d = load();
    instance = &d;
    CUresult r = d.cuInit(0);
    int count = 0;
    if (r == kNoDevice || (r == 0 && d.cuDeviceGetCount(&count) == 0 && count == 0))
      die("no CUDA GPU found (the driver is installed; compile with --target=cpu to run on "
          "this machine)");
    check(r, "cuInit");
    CUdevice dev;
    check(d.cuDeviceGet(&dev, 0), "cuDeviceGet");
    CUcontext ctx;
    check(d.cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
    check(d.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
  });
  return *instance;
}

std::string deviceDescription() {
  const Driver &d = driver();
  CUdevice dev;
  check(d.cuDeviceGet(&dev, 0), "cuDeviceGet");
  char name[256] = {};
  check(d.cuDeviceGetName(name, sizeof name - 1, dev), "cuDeviceGetName");
  int major = 0, minor = 0;
  check(d.cuDeviceGetAttribute(&major, kComputeCapabilityMajor, dev), "cuDeviceGetAttribute");
  check(d.cuDeviceGetAttribute(&minor, kComputeCapabilityMinor, dev), "cuDeviceGetAttribute");
  return std::string(name) + " (sm_" + std::to_string(major) + std::to_string(minor) + ")";
}

} // namespace ninc::cuda
