//===- compiler/pipeline/Compile.h - `ninc compile` ---------------*- C++ -*-===//
//
// The compile command behind the CLI: builds the pass manager up to the stage
// `--emit` names (as the Toy tutorial's toyc does) and writes that stage.
// No MLIR types in this header: the CLI (with exceptions and RTTI) calls it.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_PIPELINE_COMPILE_H
#define NINC_COMPILER_PIPELINE_COMPILE_H

#include "compiler/target/Target.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ninc {
namespace cpu {
struct ScheduleTuning;
}

/// The stages `--emit` can stop at, in pipeline order (dot: the graph after
/// the graph passes, as Graphviz; ptx: one file a kernel, --target=cuda).
enum class EmitStage { Nin, NinOpt, Linalg, LlvmMlir, LlvmIr, Asm, Obj, Exe, Lib, Dot, Ptx };

/// The stages' names as `--emit` spells them, in pipeline order.
const std::vector<std::string> &emitStageNames();
/// The stage `name` spells; nullopt for none.
std::optional<EmitStage> parseEmitStage(const std::string &name);

struct CompileOptions {
  std::string model;
  std::string output;         ///< Empty or "-": standard output (text stages).
  EmitStage emit = EmitStage::Exe;
  std::string mode = "infer";  ///< "train": also generate the training step.
  int64_t batch = 0;          ///< 0: the spec's training.batch_size.
  int threads = 2;            ///< Threads of the generated code (1: no OpenMP).
  int optLevel = 2;           ///< LLVM's optimisation level (0..3; codegen::MachineOptions).
  bool schedule = true;       ///< false: plain linalg -> loops (debugging).
  /// What convolutions and matmuls compute in: "fp32", or (cuda) "tf32" on
  /// the tensor cores with fp32 accumulation.
  std::string precision = "fp32";
  /// Only generated kernels (no vendor library): ninc's only mode today.
  bool noVendorLibs = false;
  /// Programs and libraries of a model file that carries weights (a
  /// checkpoint, an imported ONNX model) embed them as their default
  /// weights (symbols ninc_weights / ninc_weights_size / ninc_weights_origin).
  bool embedWeights = true;
  bool printIrAfterAll = false;
  bool printMemoryPlan = false;  ///< The arena table of each function, to stderr.
  bool printSchedule = false;    ///< The CPU schedule chosen per op, to stderr.
  bool timeReport = false;       ///< Seconds spent in each phase, to stderr.
  bool passTiming = false;       ///< MLIR's per-pass timing, to stderr.
  std::vector<std::string> printIrAfter, printIrBefore; ///< Pass arguments.
  /// CPU: the autotuner's hooks into the schedule (Autotune.h); null: the
  /// cost model's schedules.
  cpu::ScheduleTuning *tuning = nullptr;
};

/// Runs the compiler for `target` (made once from the command line by
/// makeTarget); returns the exit code (ExitCode).
int runCompile(const CompileOptions &options, const Target &target);

struct Model;

/// Compiles an already loaded model (options.model names it in messages).
int compileModel(const Model &model, const CompileOptions &options, const Target &target);

} // namespace ninc

#endif // NINC_COMPILER_PIPELINE_COMPILE_H
