//===- compiler/dialect/StageContract.h - What one stage tells the next -*- C++ -*-===//
//
// The names every stage agrees on, declared once: the functions a model
// becomes (@<model>_infer from the importer, @<model>_train_step from
// nin-autodiff; a function's role is its name's suffix, asked through
// roleOf()), and the discardable attributes one stage leaves for a later
// one. Header-only, no MLIR types: the pipeline, the passes, the backends and
// the runtime's symbol names read it alike.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_DIALECT_STAGECONTRACT_H
#define NINC_COMPILER_DIALECT_STAGECONTRACT_H

#include <string>
#include <string_view>

namespace ninc {

/// What a function of a lowered model is for.
enum class FunctionRole { Infer, TrainStep, Other };

constexpr std::string_view kInferSuffix = "_infer";
constexpr std::string_view kTrainStepSuffix = "_train_step";

/// @<model>_infer: the forward pass (the importer makes it).
inline std::string inferFunctionName(const std::string &model) {
  return model + std::string(kInferSuffix);
}
/// @<model>_train_step: forward, loss, backward and SGD (nin-autodiff).
inline std::string trainStepFunctionName(const std::string &model) {
  return model + std::string(kTrainStepSuffix);
}

/// The role of the function named `name`.
inline FunctionRole roleOf(std::string_view name) {
  auto endsWith = [&](std::string_view suffix) {
    return name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  if (endsWith(kTrainStepSuffix))
    return FunctionRole::TrainStep;
  if (endsWith(kInferSuffix))
    return FunctionRole::Infer;
  return FunctionRole::Other;
}

/// The model name of a function with a role ("nin" of "nin_infer").
inline std::string modelOf(std::string_view name) {
  switch (roleOf(name)) {
  case FunctionRole::Infer:
    return std::string(name.substr(0, name.size() - kInferSuffix.size()));
  case FunctionRole::TrainStep:
    return std::string(name.substr(0, name.size() - kTrainStepSuffix.size()));
  case FunctionRole::Other:
    break;
  }
  return std::string(name);
}

/// Discardable attributes that pass between stages.
namespace attr {
/// Argument of an imported function: the spec name of the parameter it holds.
constexpr const char *kParam = "nin.param";
/// Arguments of a lowered function: what each one is (unit attributes).
constexpr const char *kInput = "nin.input";
constexpr const char *kLabels = "nin.labels";
constexpr const char *kWeights = "nin.weights";
constexpr const char *kVelocity = "nin.velocity";
constexpr const char *kHyper = "nin.hyper";
constexpr const char *kSeed = "nin.seed";
constexpr const char *kStep = "nin.step";
/// The training step's index of its first image in the global batch (data
/// parallel: rank r of N at batch B passes r * B), so dropout masks are
/// those of the global batch however it is split.
constexpr const char *kFirstImage = "nin.first_image";
constexpr const char *kLoss = "nin.loss";
constexpr const char *kOutput = "nin.output";
/// The inference function's last argument, an i32: nonzero when the weights
/// (or the arena's persistent part) changed since the call that last packed
/// them; zero reuses the packed weights a call with the same arena left in
/// it (the CPU target packs filters once, not per call).
constexpr const char *kRepack = "nin.repack";
/// A dropout op's random stream (importer -> autodiff -> lowering).
constexpr const char *kStream = "nin.stream";
/// Lowered function: the weights blob's table {name, offset, shape, layout}.
constexpr const char *kParams = "nin.params";
/// The conv / matmul computing a weight gradient (training lowering ->
/// backends that keep those in fp32).
constexpr const char *kWeightGrad = "nin.weight_grad";
/// Function and module: the arena bytes the memory plan gave it (module:
/// the largest over its functions).
constexpr const char *kArenaBytes = "nin.arena_bytes";
/// The arena argument the memory plan appends (before a nin.repack flag).
constexpr const char *kArena = "nin.arena";
/// A memref.alloc whose contents must outlive the call (the packed
/// weights): the memory plan gives it a fixed offset at the arena's start
/// that no other buffer shares, and records the bytes on the function.
constexpr const char *kPersistent = "nin.persistent";
constexpr const char *kPersistentBytes = "nin.persistent_bytes";
/// Module: the profile table (`bench --profile`) and its region count.
constexpr const char *kProfile = "nin.profile";
constexpr const char *kProfileRegions = "nin.profile_regions";
/// The function each profiled region calls on entry and exit (made by the
/// CPU target's profile instrumentation, defined in LLVM IR at emission).
constexpr const char *kProfileMarkSymbol = "ninc_prof_mark";
/// Module: the Target description (compiler/target/TargetAttr.h).
constexpr const char *kTarget = "nin.target";
} // namespace attr

} // namespace ninc

#endif // NINC_COMPILER_DIALECT_STAGECONTRACT_H
