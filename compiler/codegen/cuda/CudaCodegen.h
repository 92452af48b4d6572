//===- compiler/codegen/cuda/CudaCodegen.h - MLIR -> GPU kernels -*- C++ -*-===//
//
// The CUDA target: the same linalg-on-tensors functions (inference and
// training step) the CPU target takes (cpu/CpuCodegen.h's input contract)
// become host functions that launch
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
// NVVM -> PTX -> cubin (gpu-module-to-binary, ptxas of the Target's toolkit).
//
// The pipeline (buildCudaCodegenPipeline; every step a pass of the one pass
// manager): ninc-attach-target (by the caller) -> ninc-prepare-bufferization
// -> ninc-cuda-pads-to-gathers -> ninc-cuda-schedule -> ninc-cuda-gemm-kernels
// -> emulate: the common tail (ninc-rewrite-strided-copies ...
// ninc-loops-to-llvm, one thread); else: ninc-cuda-host-copies-to-kernels ->
// ninc-plan-memory -> ninc-cuda-check-device-buffers -> convert-linalg-to-loops,
// gpu-kernel-outlining -> NVVM, gpu-to-llvm, gpu-module-to-binary.
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

#include "compiler/target/Target.h"
#include "runtime/support/Error.h"

#include <string>
#include <utility>
#include <vector>

namespace mlir {
class DialectRegistry;
class ModuleOp;
class OpPassManager;
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
  /// Print the memory plan (formatArenaPlan) to stderr.
  bool printMemoryPlan = false;
  /// Compile the kernels to PTX only (no ptxas; `ninc compile --emit=ptx`,
  /// read them with collectPtx).
  bool ptxOnly = false;
};

/// The dialects, interfaces and translations the target needs, on top of
/// the common code generation's (the host side is LLVM IR for this CPU).
void registerCudaCodegenDialects(mlir::DialectRegistry &registry);

/// Appends the CUDA target's passes (above) for `target` (its GPU arch,
/// toolkit and emulation) to `pm`: to the llvm dialect with `gpu.binary`
/// cubins and `gpu.launch_func` (emulate: to the llvm dialect for the CPU).
/// Translate with codegen::translateToLLVMIR.
void buildCudaCodegenPipeline(mlir::OpPassManager &pm, const Target &target,
                              const CudaOptions &opts);

/// With CudaOptions::ptxOnly, after the pipeline: each kernel module's
/// {name, PTX text}.
std::vector<std::pair<std::string, std::string>> collectPtx(mlir::ModuleOp module);

/// Registers the CUDA passes for ninc-opt.
void registerCudaCodegenPasses();

} // namespace ninc::cuda

#endif // NINC_COMPILER_CODEGEN_CUDA_CUDACODEGEN_H
