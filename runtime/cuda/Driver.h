//===- runtime/cuda/Driver.h - The CUDA driver API, loaded at run time --*- C++ -*-===//
//
// The few driver API entry points compiled CUDA programs use, declared here
// (no CUDA headers or toolkit needed to build) and resolved with dlopen from
// libcuda.so.1, so a program starts on a machine without a GPU and says what
// is missing instead of failing in the dynamic loader. Every failure ends the
// program with a message naming the call (exit code 1): the generated code
// calls the mgpu* functions, which cannot return errors. The signatures are
// those of CUDA 12's cuda.h (the stream-capture and graph entry points of
// CUDA 11.4 and later; sm_90 needs a CUDA 11.8 driver anyway).
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_CUDA_DRIVER_H
#define NINC_RUNTIME_CUDA_DRIVER_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace ninc::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;

constexpr unsigned kStreamNonBlocking = 1; // CU_STREAM_NON_BLOCKING
constexpr int kCaptureModeThreadLocal = 1; // CU_STREAM_CAPTURE_MODE_THREAD_LOCAL

struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, CUstream, void **, void **);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemAllocHost)(void **, size_t);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
  CUresult (*cuMemcpyDtoHAsync)(void *, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamBeginCapture)(CUstream, int);
  CUresult (*cuStreamEndCapture)(CUstream, CUgraph *);
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *, CUgraph, unsigned long long);
  CUresult (*cuGraphLaunch)(CUgraphExec, CUstream);
  CUresult (*cuGraphDestroy)(CUgraph);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuMemGetInfo)(size_t *, size_t *);
};

/// The driver, loaded and initialised with the first device's primary
/// context current on this thread; exits with a clear message when there is
/// no driver or no GPU.
const Driver &driver();

/// Ends the program with "cuda: error: WHAT: <driver's message>" unless r == 0.
void check(CUresult r, const std::string &what);

/// "NVIDIA H100 80GB HBM3 (sm_90)".
std::string deviceDescription();

} // namespace ninc::cuda

#endif // NINC_RUNTIME_CUDA_DRIVER_H
