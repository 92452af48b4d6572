//===- runtime/cuda/Device.h - Device buffers of compiled programs --*- C++ -*-===//
//
// What DeviceInfer.cpp, DeviceTrain.cpp and Mgpu.cpp share: the one stream
// everything runs on, allocation with clear messages, the weights and
// velocities kept on the GPU between calls (DeviceBlob; the rules are in
// DeviceInfer.cpp's file comment) and the capture of launches into a CUDA
// graph.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_CUDA_DEVICE_H
#define NINC_RUNTIME_CUDA_DEVICE_H

#include "runtime/cuda/Driver.h"
#include "runtime/program/Descriptor.h"

namespace ninc::cuda {

/// cuMemAlloc, ending the program with what needed the memory and how much
/// is free when the GPU has too little.
CUdeviceptr allocate(size_t bytes, const char *what);

/// cuMemAllocHost: page-locked host memory, which copies on the stream read
/// or write without the driver staging them, and which (unified addressing)
/// kernels can read with the same pointer. Kept until the program ends.
template <typename T> T *allocatePinned(size_t count, const char *what) {
  void *p = nullptr;
  check(driver().cuMemAllocHost(&p, count ? count * sizeof(T) : 64),
        std::string("allocating page-locked host memory for ") + what);
  return static_cast<T *>(p);
}

/// The program's descriptor (ninc_descriptor), parsed once.
const rt::ModelDescriptor &descriptor();

/// The runtime's stream (non-blocking, created once): every copy, kernel
/// and graph runs on it in order, so one cuStreamSynchronize at the end of a
/// call waits for all of it; mgpuStreamCreate hands it to the generated code.
CUstream stream();

template <typename T> T *ptr(CUdeviceptr p) { return reinterpret_cast<T *>(p); }

/// The weights blob (and, once a training step ran, the velocities) on the
/// GPU, and the host buffers they hold the values of.
class DeviceBlob {
public:
  /// The device weights' address (allocated on first use), nothing copied.
  CUdeviceptr weights();
  /// The device weights holding `host`'s values, uploaded unless they
  /// already mirror `host` (and the caller keeps weights resident).
  CUdeviceptr weightsFor(const float *host);
  /// Both blobs for a training step, uploaded unless they mirror the host
  /// buffers already.
  void forStep(float *hostWeights, float *hostVelocity, CUdeviceptr &deviceWeights,
               CUdeviceptr &deviceVelocity);
  /// After a step (enqueued, not yet synchronised): the device copies are
  /// newer than the host's; downloaded into the host buffers now unless the
  /// caller keeps weights resident.
  void stepped(float *hostWeights, float *hostVelocity);
  /// Writes newer device copies back to the host buffers they mirror, and
  /// waits for it.
  void syncHost();
  /// The caller promised the resident protocol (ninc_device_keep_weights).
  void keepResident() { keep_ = true; }

private:
  bool keep_ = false;
  bool deviceNewer_ = false; ///< A step ran since the host buffers were written.
  size_t bytes_ = 0;
  CUdeviceptr weights_ = 0, velocity_ = 0;
  /// The host buffers the device copies hold the values of (null: none).
  /// Only set when the caller keeps weights resident; writable whenever
  /// deviceNewer_, since only a step (which takes float *) sets it.
  float *hostWeights_ = nullptr, *hostVelocity_ = nullptr;
};

DeviceBlob &blob();

/// Starts recording what is enqueued on stream() into a CUDA graph (the
/// thread-local capture mode: a call that cannot be captured fails instead
/// of being run).
void beginCapture();
/// The graph recorded since beginCapture(); null if leaveCapture() gave up
/// on it, in which case what followed ran on the stream uncaptured.
CUgraph endCapture();
/// Called by the mgpu* functions before an operation a graph cannot hold or
/// the capture forbids (allocation, synchronisation, module loading): ends
/// the capture, discarding it, so the operation runs.
void leaveCapture();

} // namespace ninc::cuda

#endif // NINC_RUNTIME_CUDA_DEVICE_H
