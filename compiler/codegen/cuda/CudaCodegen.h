//===- compiler/codegen/cuda/CudaCodegen.h - MLIR -> GPU kernels -*- C++ -*-===//
//
// The CUDA backend: the same linalg-on-tensors functions (inference and
// training step) the CPU backend
// takes (CpuCodegen.h's input contract) become host functions that launch
// one generated kernel per linalg op on the GPU, with the kernels compiled to
// a cubin by ptxas and embedded in the module.
//
// Convolutions and matmuls (GemmKernels.cpp): each linalg.conv_2d_nhwc_hwcf
// and linalg.matmul, with the zero fill of its accumulator and its in-place
// elementwise epilogue (bias, ReLU, ReLU-gradient mask), is one GEMM kernel
// (implicit GEMM for convolutions): 64 x BN output tiles a block, 4 x 4 a
// thread in registers, K through double-buffered shared-memory tiles.
//
// Schedule (Schedule.cpp), for every other linalg op, by its parallel loops
// P0..Pr-1 (reductions stay sequential loops inside a thread):
//   blocks  - scf.forall over the outer parallel loops (tile 1) and the
//             innermost one (tile 32), mapped to #gpu.block<z, y, x>;
//   threads - a nested scf.forall, num_threads [8 rows, 32 lanes] over the
//             last two parallel loops, mapped to #gpu.thread<y, x>
//             (1-D ops: 256 lanes; 2-D: a block is 8 x 32 outputs).
//   tensor.pad becomes a gather-style linalg.generic first, so it is a
//   kernel too; copies bufferization leaves on the host become one-thread-
//   per-element kernels (copies of a view onto itself go); nothing but
//   launches and views stays on the host.
// Then one-shot bufferization, the memory plan (one device arena,
// compiler/codegen/common/MemoryPlan.h), gpu.launch per block forall, and
// NVVM -> PTX -> cubin (gpu-module-to-binary, ptxas from CudaOptions::toolkit).
//
// Output ABI: every function keeps its bare-pointer C signature
// `void name(float *a, ..., uint8_t *arena)`, with every pointer a *device*
// pointer; the kernels run on the default stream and the function returns
// after they are queued (runtime/cuda synchronises). The host code calls the
// `mgpu*` functions MLIR's gpu-to-llvm emits (runtime/cuda/Mgpu.cpp
// implements them over the CUDA driver API).
//
// emulate = true applies the same tiling without the GPU mapping and lowers
// the loops for this CPU instead (scf.forall -> scf.for, CPU backend's
// pipeline; the GEMM kernels as loops over blocks and, per barrier-separated
// phase, over threads): the kernels' index arithmetic and tiling run here,
// against the reference interpreter in the tests. It cannot catch what only
// a GPU does (a missing barrier or a race, thread/block ids, launch bounds,
// device memory).
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_CODEGEN_CUDA_CUDACODEGEN_H
#define NINC_COMPILER_CODEGEN_CUDA_CUDACODEGEN_H

#include "runtime/support/Error.h"

#include <string>
#include <utility>
#include <vector>

namespace mlir {
class DialectRegistry;
class ModuleOp;
} // namespace mlir

namespace ninc::cuda {

/// What the convolutions and matmuls compute in: fp32 (FMAs), or on the
/// tensor cores with fp32 accumulation: TF32 (operands truncated to 10
/// mantissa bits by the hardware) or BF16 (operands rounded to 8 mantissa
/// bits as they enter the mma; weights, activations and updates stay fp32:
/// the fp32 master weights of mixed precision).
enum class Precision { FP32, TF32, BF16 };

struct CudaOptions {
  Precision precision = Precision::FP32;
  /// NVVM target chip ("sm_90", "sm_90a", "sm_80", ...).
  std::string arch = "sm_90";
  /// CUDA toolkit whose ptxas assembles the kernels.
  std::string toolkit = "/usr/local/cuda";
  /// Same tiling, lowered for the CPU (see above).
  bool emulate = false;
  /// With the memory plan: receives its table (formatArenaPlan).
  std::string *memoryReport = nullptr;
  /// When set: the kernels are compiled to PTX only (no ptxas) and each
  /// kernel's {name, PTX text} lands here (`ninc compile --emit=ptx`).
  std::vector<std::pair<std::string, std::string>> *ptx = nullptr;
};

/// The dialects, interfaces and translations the backend needs, on top of
/// the CPU backend's (the host side is LLVM IR for this CPU).
void registerCudaCodegenDialects(mlir::DialectRegistry &registry);

/// Schedules, bufferizes, plans and lowers `module` in place: to the llvm
/// dialect with `gpu.binary` cubins and `gpu.launch_func` (emulate: to the
/// llvm dialect for the CPU). Translate with cpu::translateToLLVMIR.
Status lowerToLLVMDialect(mlir::ModuleOp module, const CudaOptions &opts);

} // namespace ninc::cuda

#endif // NINC_COMPILER_CODEGEN_CUDA_CUDACODEGEN_H
