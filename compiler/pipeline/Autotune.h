//===- compiler/pipeline/Autotune.h - `ninc compile --autotune` --*- C++ -*-===//
//
// Times candidate schedules of every distinct conv / matmul of a model on
// this machine and keeps the fastest in a cache, as TVM's and IREE's tuners
// do, but measured inside the whole program: each timing round compiles the
// model with every tunable op on its k-th candidate (the cost model's plan is
// candidate 0), runs `bench --profile --profile-out` and reads each op's
// region times. An op keeps a candidate only when it beat the cost model by
// more than the noise margin, so a tuned program is never slower than the
// untuned one by the tuner's own measure.
//
// The cache (a text file, one line an op) is keyed by the Target (CPU name,
// ISA extensions, threads, precision), the mode (the function: inference or
// training step) and the op's schedule problem (kind, loop ranges, fusion);
// a later compile whose ops are all in it does no timing.
//
// No MLIR types in this header: the CLI calls it.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_PIPELINE_AUTOTUNE_H
#define NINC_COMPILER_PIPELINE_AUTOTUNE_H

#include "compiler/pipeline/Compile.h"

#include <string>

namespace ninc {

struct Model;

struct AutotuneOptions {
  /// Stop starting timing rounds once this much time is spent (the round in
  /// flight finishes; round 0, the cost model's, always runs).
  double seconds = 300;
  /// The cache file; empty: $NINC_AUTOTUNE_CACHE, else
  /// $XDG_CACHE_HOME/ninc/autotune.tsv, else ~/.cache/ninc/autotune.tsv.
  std::string cachePath;
};

/// The cache file `options` names.
std::string autotuneCachePath(const AutotuneOptions &options);

/// Compiles `model` as `opts` asks, with the schedules of the cache, timing
/// the ops it lacks first (progress and a per-op report on stderr).
/// Returns the exit code (ExitCode).
int compileWithAutotune(const Model &model, const CompileOptions &opts, const Target &target,
                        const AutotuneOptions &tune);

} // namespace ninc

#endif // NINC_COMPILER_PIPELINE_AUTOTUNE_H
