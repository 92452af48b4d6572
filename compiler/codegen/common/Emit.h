//===- compiler/codegen/common/Emit.h - llvm dialect -> object ---*- C++ -*-===//
//
// The last steps of both targets, for the Target's CPU (for --target=cuda the
// host code's; the kernels are already cubins inside the module): the llvm
// dialect translated to LLVM IR, LLVM's optimisation pipeline, and assembly or
// position-independent object files, in-process.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_CODEGEN_COMMON_EMIT_H
#define NINC_COMPILER_CODEGEN_COMMON_EMIT_H

#include "compiler/target/Target.h"
#include "runtime/support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace llvm {
class LLVMContext;
class Module;
} // namespace llvm

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace ninc::codegen {

/// The machine code is generated for: the CPU, and LLVM's level (0..3).
/// 2: the schedules arrive vectorised with their short loops unrolled, and
/// -O3 ran no faster on NiN-224 (training 36.0-36.1 vs 36.2-36.4 images/s,
/// AVX2 Zen 3) for 2.5x the LLVM time (6.6 vs 2.7 s; docs/performance.md).
struct MachineOptions {
  CpuTarget cpu;
  int optLevel = 2;
};

/// Translates a module in the llvm dialect to LLVM IR in `ctx` (first
/// dropping from `module` the argument attributes of dialects other than
/// llvm, which have no translation), with the machine's data layout and
/// triple and the functions that fork OpenMP regions marked optnone (glue,
/// see Emit.cpp), defines the profile counters when the module has profile
/// regions (nin.profile_regions), and with `optimize` runs
/// LLVM's pipeline at opts.optLevel (no SLP vectorizer: the schedules
/// vectorise).
Expected<std::unique_ptr<llvm::Module>> translateToLLVMIR(mlir::ModuleOp module,
                                                          llvm::LLVMContext &ctx,
                                                          const MachineOptions &opts,
                                                          bool optimize = true);

/// Writes `module` as a relocatable (PIC) object file to `path`.
Status emitObjectFile(llvm::Module &module, const std::string &path, const MachineOptions &opts);

/// The same in paths.size() objects made concurrently, one thread each (the
/// module split by llvm::SplitModule; link them all); with `optimize`, each
/// part first goes through LLVM's pipeline at opts.optLevel (for a module
/// translated with optimize = false).
Status emitObjectFiles(llvm::Module &module, const std::vector<std::string> &paths,
                       const MachineOptions &opts, bool optimize = false);

/// Writes `module` as target assembly to `path` (`--emit=asm`).
Status emitAssembly(llvm::Module &module, const std::string &path, const MachineOptions &opts);

/// Defines ninc_prof_mark and the cycle counters (ninc_prof_cycles,
/// ninc_prof_enabled) in the LLVM IR of a module whose profile
/// instrumentation marked `regions` regions.
void defineProfileHooks(llvm::Module &module, int64_t regions);

} // namespace ninc::codegen

#endif // NINC_COMPILER_CODEGEN_COMMON_EMIT_H
