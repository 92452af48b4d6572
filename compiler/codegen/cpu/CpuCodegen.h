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
// The pipeline (buildCpuCodegenPipeline; every step a pass of the one pass
// manager, the named pipeline `ninc-cpu-codegen` in ninc-opt):
//   ninc-attach-target (by the caller) -> ninc-prepare-bufferization ->
//   [--precision=bf16: ninc-cpu-bf16-inputs] ->
//   schedule = true:  ninc-cpu-split-wide-reductions, ninc-cpu-tag-profile,
//                     ninc-cpu-schedule (two transform scripts built from the
//                     ops' static shapes, Schedule.cpp, run in-process by the
//                     transform interpreter; see Scheduler in CpuInternal.h):
//                     [threads > 1: scf.forall over the batch (conv, else
//                     output rows) or M (matmul)] -> register tiles with the
//                     fill and bias/ReLU epilogue fused, the filter slices
//                     packed per column tile, vectorised, bufferized;
//   schedule = false: ninc-cpu-tag-profile, eliminate-empty-tensors,
//                     one-shot-bufferize, canonicalize,
//                     ninc-cpu-instrument-profile ->
//   ninc-rewrite-strided-copies -> buffer-loop-hoisting -> ninc-plan-memory ->
//   ninc-loops-to-llvm (buffer deallocation, linalg -> loops, [threads > 1:
//   scf.forall -> scf.parallel -> omp.parallel/wsloop], vector/scf/affine/cf
//   -> llvm, func -> llvm with bare pointers).
// codegen::translateToLLVMIR (common/Emit.h) then runs LLVM's O3 pipeline for
// the Target's CPU.
//
// Link requirements of the object: libc (malloc, free, memcpy, memset); with
// threads > 1 also LLVM's OpenMP runtime for the __kmpc_* calls:
// -L/usr/lib/llvm-19/lib -lomp (Debian package libomp-19-dev). The code uses
// the features of the module's Target (nin.target): the host CPU's, or those
// of the CPU `--cpu` names.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_CODEGEN_CPU_CPUCODEGEN_H
#define NINC_COMPILER_CODEGEN_CPU_CPUCODEGEN_H

#include "runtime/support/Error.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mlir {
class DialectRegistry;
class ModuleOp;
class OpPassManager;
} // namespace mlir

namespace ninc::cpu {

/// A conv or matmul whose schedule the autotuner may choose
/// (compiler/pipeline/Autotune.h), as the schedule pass found it.
struct TunableOp {
  /// What identifies the op's schedule problem: kind, loop ranges, what is
  /// fused ("matmul 86528x256x256 fill epilogue").
  std::string key;
  std::string function; ///< The function holding it.
  std::string mode;     ///< "infer" or "train" (the function's role).
  /// The schedules it may take, as text (ScheduleChoice); [0] is the cost
  /// model's ("default").
  std::vector<std::string> candidates;
  /// Which of them this compilation used.
  int64_t used = 0;
  /// The profile regions (`bench --profile-out`) its tiles run in.
  std::vector<int64_t> regions;
};

/// What the autotuner asks of the schedule pass.
struct ScheduleTuning {
  /// >= 0: a timing round; every tunable op takes its candidate
  /// min(round, candidates - 1).
  int64_t round = -1;
  /// Otherwise: the candidate (text) chosen for "mode<TAB>key"; ops not
  /// named take the cost model's schedule.
  std::map<std::string, std::string> chosen;
  /// Filled by the schedule pass: every tunable op, in order.
  std::vector<TunableOp> found;
};

/// How to generate code.
struct CpuOptions {
  /// Threads for the parallel loops; 1 generates no OpenMP calls at all.
  int threads = 2;
  /// false: plain linalg -> loops without transform schedules (slow, simple;
  /// for debugging and as a second opinion in tests).
  bool schedule = true;
  /// For lowerToLLVMDialect on a module without a Target: the LLVM CPU name
  /// ("znver4", "skylake-avx512"); empty: the host CPU and its features.
  std::string cpu = "";
  /// Move every function's top-level intermediates into one arena passed as
  /// a new last argument `uint8_t *arena` (compiler/codegen/common/MemoryPlan.h);
  /// its size is left as the module attribute `nin.arena_bytes` (the largest
  /// over the functions).
  bool planMemory = false;
  /// With planMemory: print each function's plan to stderr
  /// (`ninc compile --memory-plan`).
  bool printMemoryPlan = false;
  /// Print the schedule chosen for each op to stderr
  /// (`ninc compile --schedule-report`)...
  bool printSchedule = false;
  /// ...or, when set, append it here instead.
  std::string *scheduleReport = nullptr;
  /// Autotuning (`ninc compile --autotune`): the schedules to use, and
  /// where the schedule pass lists the tunable ops; null: the cost model.
  ScheduleTuning *tuning = nullptr;
  /// --precision=bf16: convs and matmuls multiply in bf16 with vdpbf16ps
  /// (fp32 accumulation, fp32 weights); needs AVX512-BF16 on the target.
  bool bf16 = false;
};

/// Registers exactly the dialects, interfaces, transform extensions and LLVM
/// translations the backend needs. The module's MLIRContext must be created
/// with (at least) this registry.
void registerCpuCodegenDialects(mlir::DialectRegistry &registry);

/// Appends the CPU target's passes (above), from linalg on tensors to the
/// llvm dialect, to `pm` (anchored on the module). The module must carry a
/// Target (ninc-attach-target).
void buildCpuCodegenPipeline(mlir::OpPassManager &pm, const CpuOptions &opts);

/// Attaches a Target for opts.cpu when the module has none, then runs
/// buildCpuCodegenPipeline on `module` (input contract above); errors carry
/// MLIR's diagnostics.
Status lowerToLLVMDialect(mlir::ModuleOp module, const CpuOptions &opts);

/// Registers the CPU passes and the pipeline `ninc-cpu-codegen` for ninc-opt.
void registerCpuCodegenPasses();

} // namespace ninc::cpu

#endif // NINC_COMPILER_CODEGEN_CPU_CPUCODEGEN_H
