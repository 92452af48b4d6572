//===- compiler/codegen/cuda/CudaInternal.h - Backend internals -*- C++ -*-===//
#ifndef NINC_COMPILER_CODEGEN_CUDA_CUDAINTERNAL_H
#define NINC_COMPILER_CODEGEN_CUDA_CUDAINTERNAL_H

#include "compiler/codegen/cuda/CudaCodegen.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir {
class ModuleOp;
class Value;
namespace linalg {
class LinalgOp;
}
} // namespace mlir

namespace ninc::cuda::detail {

/// `nin.kernel = <id>` on each scheduled linalg op and on its block forall.
constexpr const char *kKernelTag = "nin.kernel";
/// `nin.fused = <id>` on a producer fused into another op's kernel.
constexpr const char *kFusedTag = "nin.fused";

/// A conv or matmul emitted as a tiled GEMM kernel (GemmKernels.cpp):
/// `nin.gemm = <id>` on it, `nin.gemm_fill = <id>` on the fill of its
/// accumulator, `nin.gemm_epilogue = <id>` on its in-place epilogue.
constexpr const char *kGemmTag = "nin.gemm";
constexpr const char *kGemmFillTag = "nin.gemm_fill";
constexpr const char *kGemmEpilogueTag = "nin.gemm_epilogue";
/// `nin.gemm_chain = <id>` on a matmul whose A is only the output of matmul
/// <id>'s epilogue (a NiN block's 1x1 pair): one kernel keeps the
/// intermediate in shared memory, for up to kMaxChainChannels channels.
constexpr const char *kGemmChainTag = "nin.gemm_chain";
constexpr int64_t kMaxChainChannels = 384;

/// The launch of one linalg op (CudaCodegen.h's schedule). Sizes are per
/// loop of the op; 0 = not tiled at that level.
struct KernelPlan {
  int64_t tag = 0;
  std::vector<int64_t> blockTiles;   ///< tile_sizes of the block forall
  std::vector<int64_t> threadCounts; ///< num_threads of the thread forall
  std::vector<std::string> blockMapping, threadMapping;
  std::vector<int64_t> blockDims;    ///< threads per block [x, y, z]
  std::vector<int64_t> fusedTags;    ///< producers fused into this kernel (kFusedTag)
};

/// tensor.pad with a constant -> a gather linalg.generic (schedulable).
void padsToGathers(mlir::ModuleOp module);

/// Tags every linalg op on tensors and plans its launch.
Expected<std::vector<KernelPlan>> planKernels(mlir::ModuleOp module);

/// Tiling to blocks and threads, bufferization and, with `mapToGpu`, one
/// gpu.launch per op.
std::string scheduleScript(const std::vector<KernelPlan> &plans, bool mapToGpu);

/// Whether `op` (on tensors) becomes a GEMM kernel: a linalg.matmul or
/// linalg.conv_2d_nhwc_hwcf on static f32 operands.
bool isGemmCandidate(mlir::linalg::LinalgOp op);

/// After bufferization: each op tagged kGemmTag, with its fill and
/// epilogue, becomes one GEMM kernel (a gpu.launch, or CPU loops when
/// `emulate`), on the tensor cores (mma.sync) for TF32 and BF16.
Status emitGemmKernels(mlir::ModuleOp module, bool emulate, Precision precision);

/// Two views of one buffer with the same offsets, sizes and strides.
bool sameView(mlir::Value a, mlir::Value b);

} // namespace ninc::cuda::detail

#endif // NINC_COMPILER_CODEGEN_CUDA_CUDAINTERNAL_H
