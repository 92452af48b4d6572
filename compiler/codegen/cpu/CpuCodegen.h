//===- compiler/codegen/cpu/CpuCodegen.h - MLIR -> object ------*- C++ -*-===//
//
// The CPU backend: turns an MLIR module in upstream dialects into a native
// object file, in-process (no mlir-opt / llc), with transform-dialect
// schedules applied to the heavy ops.
//
// Input contract (what the rest of the compiler hands over):
//   - Functions `func.func @name(%a: memref<...xf32>, ..., %out: memref<...>)`
//     with static shapes and no results.
//   - The body reads arguments with
//       `bufferization.to_tensor %a restrict : memref<...>`,
//     computes on tensors with linalg named ops (conv_2d_nhwc_hwcf, matmul,
//     pooling_nhwc_max, pooling_nhwc_sum, fill, transpose, generic for
//     elementwise bias / ReLU / scale) and tensor.empty / pad /
//     collapse_shape / expand_shape, and writes every output with
//       `bufferization.materialize_in_destination %r in restrict writable
//       %out`.
//   - Activations NHWC, filters HWCF, fp32. A conv is typically followed by a
//     linalg.generic adding a bias and applying max(x, 0); that generic is
//     fused into the conv's register tiles when its result is only used there.
//
// Output ABI: every function becomes a C function with the bare-pointer memref
// calling convention, `void name(float *a, ..., float *out)`. Arguments are
// read through `restrict` to_tensor ops, so outputs must not alias inputs.
// Intermediate tensors are malloc'ed by bufferization and freed before the
// function returns (ownership-based buffer deallocation).
//
// Pipeline order (lowerToLLVMDialect):
//   1. Reshape-of-output rewrite: `materialize(expand_shape(x)) in %out`
//      becomes `materialize(x) in collapse_shape(%out)` (no final copy).
//   2. schedule = true: two transform scripts built from the ops' static
//      shapes (Schedule.cpp), run in-process by the transform interpreter.
//      Tiling script: conv_2d_nhwc_hwcf / matmul (+ their linalg.fill and a
//      bias/ReLU linalg.generic consumer, fused into the tiles): [threads > 1:
//      scf.forall over the batch (conv, else output rows) or M (matmul)] ->
//      register tiles TW x TF (conv: [1, 1, TW, TF]; matmul [TM, TN]), with
//      the image swept in order when the weights fit in L2 and the F tiles
//      outermost otherwise; a W/M loop that TW does not divide is peeled.
//      Then (C++) the weight slice each tile reads is packed into a
//      contiguous [F/TF][KH][KW][C][TF] layout (PackOperands.cpp).
//      Finishing script: reduction dims tiled to 1, conv/pooling decomposed
//      to 1-D, every other linalg op (pooling, elementwise, transpose, fill,
//      the packing) tiled to vector rows [with a forall over dim 0];
//      vectorize, loop-invariant-subset-hoisting on tensors,
//      eliminate-empty-tensors, one-shot bufferize, hoisting of redundant
//      vector transfers and vector lowering (contraction -> outer products
//      -> FMAs, transfers -> loads/stores).
//      schedule = false: eliminate-empty-tensors + one-shot bufferize only.
//   3. memref.copy with strided layouts -> linalg.copy; buffer deallocation
//      pipeline (ownership-based); linalg -> loops (parallel loops when
//      schedule = false and threads > 1); [threads > 1: scf.forall ->
//      scf.parallel -> omp.parallel/wsloop with num_threads(threads)];
//      vector -> scf, affine -> scf, scf -> cf, expand-strided-metadata;
//      vector, memref, math, arith, index, cf -> llvm; func -> llvm with bare
//      pointers; openmp -> llvm; reconcile-unrealized-casts.
// translateToLLVMIR then runs LLVM's O3 pipeline for the chosen CPU;
// emitObjectFile / emitAssembly use the same target machine (PIC).
//
// Link requirements of the object: libc (malloc, free, memcpy, memset); with
// threads > 1 also LLVM's OpenMP runtime for the __kmpc_* calls:
// -L/usr/lib/llvm-19/lib -lomp (Debian package libomp-19-dev). The code uses
// the host CPU's features (AVX-512 here) unless CpuOptions::cpu names another.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_CODEGEN_CPU_CPUCODEGEN_H
#define NINC_COMPILER_CODEGEN_CPU_CPUCODEGEN_H

#include "runtime/support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace llvm {
class LLVMContext;
class Module;
} // namespace llvm

namespace mlir {
class DialectRegistry;
class ModuleOp;
} // namespace mlir

namespace ninc::cpu {

/// How to generate code.
struct CpuOptions {
  /// Threads for the parallel loops; 1 generates no OpenMP calls at all.
  int threads = 2;
  /// false: plain linalg -> loops without transform schedules (slow, simple;
  /// for debugging and as a second opinion in tests).
  bool schedule = true;
  /// LLVM CPU name ("znver4", "skylake-avx512"); empty: the host CPU and its
  /// features.
  std::string cpu = "";
  /// LLVM optimisation level, 0..3.
  int optLevel = 3;
  /// Move every function's top-level intermediates into one arena passed as
  /// a new last argument `uint8_t *arena` (compiler/codegen/common/MemoryPlan.h);
  /// its size is left as the module attribute `nin.arena_bytes` (the largest
  /// over the functions).
  bool planMemory = false;
  /// With planMemory: when set, receives a table of each function's plan
  /// (formatArenaPlan) for `ninc compile --memory-plan`.
  std::string *memoryReport = nullptr;
  /// When set: receives the schedule chosen for each op (Scheduler::report).
  std::string *scheduleReport = nullptr;
  /// --precision=bf16: convs and matmuls multiply in bf16 with vdpbf16ps
  /// (fp32 accumulation, fp32 weights); needs AVX512-BF16 on the target.
  bool bf16 = false;
};

/// The target CPU's LLVM name (opts.cpu or the host's) and whether it has
/// `feature` ("avx512bf16").
std::pair<std::string, bool> targetFeature(const CpuOptions &opts,
                                           const std::string &feature);

/// Registers exactly the dialects, interfaces, transform extensions and LLVM
/// translations the backend needs. The module's MLIRContext must be created
/// with (at least) this registry.
void registerCpuCodegenDialects(mlir::DialectRegistry &registry);

/// Schedules, bufferizes and lowers `module` (input contract above) in place
/// to the llvm dialect (plus omp ops lowered to llvm when threads > 1).
Status lowerToLLVMDialect(mlir::ModuleOp module, const CpuOptions &opts);

/// The part of lowerToLLVMDialect after bufferization: strided copies, the
/// memory plan, loops, [OpenMP], llvm dialect. For modules bufferized
/// elsewhere (the CUDA backend's CPU emulation).
Status lowerBufferizedToLLVMDialect(mlir::ModuleOp module, const CpuOptions &opts);

/// Translates a module in the llvm dialect to LLVM IR in `ctx`, with the
/// target's data layout and triple, and runs LLVM's optimisation pipeline at
/// opts.optLevel.
Expected<std::unique_ptr<llvm::Module>>
translateToLLVMIR(mlir::ModuleOp module, llvm::LLVMContext &ctx,
                  const CpuOptions &opts, bool optimize = true);

/// Writes `module` as a relocatable (PIC) object file to `path`.
Status emitObjectFile(llvm::Module &module, const std::string &path,
                      const CpuOptions &opts);

/// Writes `module` as target assembly to `path` (`--emit=asm`).
/// The same in paths.size() objects made concurrently, one thread each (the
/// module split by llvm::SplitModule; link them all); with `optimize`, each
/// part first goes through LLVM's pipeline at opts.optLevel (for a module
/// translated with optimize = false).
Status emitObjectFiles(llvm::Module &module, const std::vector<std::string> &paths,
                       const CpuOptions &opts, bool optimize = false);

Status emitAssembly(llvm::Module &module, const std::string &path,
                    const CpuOptions &opts);

} // namespace ninc::cpu

#endif // NINC_COMPILER_CODEGEN_CPU_CPUCODEGEN_H
