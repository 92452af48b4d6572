//===- compiler/pipeline/Compile.h - `ninc compile` ---------------*- C++ -*-===//
//
// The compile command behind the CLI: builds the pass manager up to the stage
// `--emit` names (as the Toy tutorial's toyc does) and writes that stage.
// No MLIR types in this header: the CLI (with exceptions and RTTI) calls it.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_PIPELINE_COMPILE_H
#define NINC_COMPILER_PIPELINE_COMPILE_H

#include <cstdint>
#include <string>
#include <vector>

namespace ninc {

/// Stages `--emit` can stop at, in pipeline order.
extern const std::vector<std::string> kEmitStages;

struct CompileOptions {
  std::string model;
  std::string output;         ///< Empty or "-": standard output (text stages).
  std::string target = "cpu";
  std::string emit = "exe";
  std::string mode = "infer";  ///< "train": also generate the training step.
  int64_t batch = 0;          ///< 0: the spec's training.batch_size.
  int threads = 2;            ///< Threads of the generated code (1: no OpenMP).
  bool schedule = true;       ///< false: plain linalg -> loops (debugging).
  std::string cpu;            ///< LLVM CPU name; empty: the host.
  std::string gpuArch = "sm_90"; ///< --target=cuda: the NVVM chip.
  bool gpuEmulate = false;    ///< --target=cuda: the kernels' tiling on this CPU (testing).
  /// What convolutions and matmuls compute in: "fp32", or (cuda) "tf32" on
  /// the tensor cores with fp32 accumulation.
  std::string precision = "fp32";
  /// Only generated kernels (no vendor library): ninc's only mode today.
  bool noVendorLibs = false;
  bool printIrAfterAll = false;
  bool printMemoryPlan = false;  ///< The arena table of each function, to stderr.
  bool printSchedule = false;    ///< The CPU schedule chosen per op, to stderr.
  bool timeReport = false;       ///< Seconds spent in each phase, to stderr.
  std::vector<std::string> printIrAfter, printIrBefore; ///< Pass arguments.
};

/// Runs the compiler; returns the exit code (0 ok, 1 invalid input, 2 usage).
int runCompile(const CompileOptions &options);

struct Model;

/// Compiles an already loaded model (options.model names it in messages).
int compileModel(const Model &model, const CompileOptions &options);

} // namespace ninc

#endif // NINC_COMPILER_PIPELINE_COMPILE_H
