//===- tests/gpu/fake-driver/FakeCuda.cpp - A libcuda.so.1 for tests -------===//
//
// Built as libcuda.so.1 in a folder of its own, put first on LD_LIBRARY_PATH,
// it lets a CUDA program compiled by ninc run on a machine without a GPU so
// that its driver glue (runtime/cuda) is tested: device memory is host
// memory, modules are remembered, launches are counted but run nothing.
// FAKE_CUDA selects a failure to test the program's message for:
//   nodevice    cuInit reports no device
//   oldgpu      the device is sm_70 and cuModuleLoadData has no binary for it
//   oom         every cuMemAlloc fails with out of memory
//   fault       the first synchronisation reports an illegal address
// FAKE_CUDA_TRACE=1 prints the counts at exit:
//   "fake cuda: M modules loaded, K kernels looked up, L launches".
//
//===----------------------------------------------------------------------===//
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

enum : int {
  kSuccess = 0,
  kOutOfMemory = 2,
  kNoDevice = 100,
  kNoBinaryForGpu = 209,
  kIllegalAddress = 700,
};

std::string mode() {
  const char *m = std::getenv("FAKE_CUDA");
  return m ? m : "";
}

std::atomic<long> modules{0}, functions{0}, launches{0};

struct Trace {
  ~Trace() {
    if (std::getenv("FAKE_CUDA_TRACE"))
      std::fprintf(stderr, "fake cuda: %ld modules loaded, %ld kernels looked up, %ld launches\n",
                   modules.load(), functions.load(), launches.load());
  }
} trace;

} // namespace

extern "C" {

int cuInit(unsigned) { return mode() == "nodevice" ? kNoDevice : kSuccess; }
int cuDeviceGetCount(int *n) {
  *n = 1;
  return kSuccess;
}
int cuDeviceGet(int *d, int) {
  *d = 0;
  return kSuccess;
}
int cuDeviceGetName(char *name, int len, int) {
  std::snprintf(name, size_t(len), "Fake GPU");
  return kSuccess;
}
int cuDeviceGetAttribute(int *v, int attr, int) {
  bool old = mode() == "oldgpu";
  *v = attr == 75 ? (old ? 7 : 9) : 0; // compute capability major, minor
  return kSuccess;
}
int cuDevicePrimaryCtxRetain(void **ctx, int) {
  static int context;
  *ctx = &context;
  return kSuccess;
}
int cuCtxSetCurrent(void *) { return kSuccess; }
int cuCtxSynchronize() {
  static bool faulted = false;
  if (mode() == "fault" && !faulted) {
    faulted = true;
    return kIllegalAddress;
  }
  return kSuccess;
}
int cuModuleLoadData(void **module, const void *image) {
  if (mode() == "oldgpu")
    return kNoBinaryForGpu;
  // A cubin is an ELF file.
  if (std::memcmp(image, "\x7f" "ELF", 4) != 0)
    return 200; // CUDA_ERROR_INVALID_IMAGE
  ++modules;
  *module = const_cast<void *>(image);
  return kSuccess;
}
int cuModuleGetFunction(void **f, void *module, const char *) {
  ++functions;
  *f = module;
  return kSuccess;
}
int cuLaunchKernel(void *, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                   unsigned bz, unsigned, void *, void **, void **) {
  if (!gx || !gy || !gz || !bx || !by || !bz || bx * by * bz > 1024)
    return 1; // CUDA_ERROR_INVALID_VALUE
  ++launches;
  return kSuccess;
}
int cuMemAlloc_v2(unsigned long long *p, size_t bytes) {
  if (mode() == "oom")
    return kOutOfMemory;
  *p = reinterpret_cast<unsigned long long>(std::calloc(1, bytes));
  return *p ? kSuccess : kOutOfMemory;
}
int cuMemFree_v2(unsigned long long p) {
  std::free(reinterpret_cast<void *>(p));
  return kSuccess;
}
int cuMemcpyHtoD_v2(unsigned long long dst, const void *src, size_t n) {
  std::memcpy(reinterpret_cast<void *>(dst), src, n);
  return kSuccess;
}
int cuMemcpyDtoH_v2(void *dst, unsigned long long src, size_t n) {
  std::memcpy(dst, reinterpret_cast<const void *>(src), n);
  return kSuccess;
}
int cuMemcpyDtoDAsync_v2(unsigned long long dst, unsigned long long src, size_t n, void *) {
  std::memmove(reinterpret_cast<void *>(dst), reinterpret_cast<const void *>(src), n);
  return kSuccess;
}
int cuMemsetD32Async(unsigned long long dst, unsigned v, size_t n, void *) {
  auto *p = reinterpret_cast<unsigned *>(dst);
  for (size_t i = 0; i < n; ++i)
    p[i] = v;
  return kSuccess;
}
int cuStreamSynchronize(void *) { return kSuccess; }
int cuEventCreate(void **e, unsigned) {
  static int event;
  *e = &event;
  return kSuccess;
}
int cuEventDestroy_v2(void *) { return kSuccess; }
int cuEventRecord(void *, void *) { return kSuccess; }
int cuEventSynchronize(void *) { return kSuccess; }
int cuStreamWaitEvent(void *, void *, unsigned) { return kSuccess; }
int cuGetErrorString(int r, const char **text) {
  switch (r) {
  case kOutOfMemory: *text = "out of memory"; break;
  case kIllegalAddress: *text = "an illegal memory access was encountered"; break;
  case kNoBinaryForGpu: *text = "no kernel image is available for execution on the device"; break;
  default: *text = "fake error"; break;
  }
  return kSuccess;
}
int cuMemGetInfo_v2(size_t *free, size_t *total) {
  *free = size_t(1) << 30;
  *total = size_t(2) << 30;
  return kSuccess;
}

} // extern "C"
