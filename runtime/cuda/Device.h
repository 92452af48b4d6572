//===- runtime/cuda/Device.h - Device buffers of compiled programs --*- C++ -*-===//
#ifndef NINC_RUNTIME_CUDA_DEVICE_H
#define NINC_RUNTIME_CUDA_DEVICE_H

#include "runtime/cuda/Driver.h"
#include "runtime/program/Descriptor.h"

namespace ninc::cuda {

/// cuMemAlloc, ending the program with what needed the memory and how much
/// is free when the GPU has too little.
CUdeviceptr allocate(size_t bytes, const char *what);

/// The program's descriptor (ninc_descriptor), parsed once.
const rt::ModelDescriptor &descriptor();

template <typename T> T *ptr(CUdeviceptr p) { return reinterpret_cast<T *>(p); }

} // namespace ninc::cuda

#endif // NINC_RUNTIME_CUDA_DEVICE_H
