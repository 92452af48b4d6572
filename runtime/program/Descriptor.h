//===- runtime/program/Descriptor.h - What a compiled model is ----*- C++ -*-===//
//
// Every compiled model carries a small text descriptor (the symbol
// `ninc_descriptor`, written by `ninc compile`) so the runtime never
// hard-codes a model: the batch and input shape the code was compiled for,
// the classes, the training recipe's seed, and where each parameter lives in
// the weights blob and in which layout. Format, one record per line:
//
//   ninc-descriptor 1
//   model nin
//   batch 128
//   input 1 224 224
//   classes 10
//   seed 0
//   magnitude 3
//   weights 1992208                       (floats in the blob)
//   arena 574242880                       (bytes of scratch the code needs)
//   packed_weights 8044544                (of which, at its start, the packed
//                                          weights ninc_infer keeps between calls)
//   train_arena 1903001600                (scratch of ninc_train_step; 0: none)
//   lr 0.1                                (the spec's training recipe ...)
//   momentum 0
//   weight_decay 0
//   epochs 5
//   param block1.0.weight 0 HWCF 96 1 11 11   (name offset layout spec-shape...)
//   cpu znver3                            (the LLVM CPU the code was compiled for)
//   isa avx avx2 f16c fma sse4.2          (the ISA extensions it may use)
//
// The training records are optional so descriptors of older, inference-only
// programs keep parsing: absent, they take the spec's defaults (lr 0.1,
// momentum 0, weight_decay 0, epochs 5) and train_arena 0, which means the
// program was compiled without ninc_train_step.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_PROGRAM_DESCRIPTOR_H
#define NINC_RUNTIME_PROGRAM_DESCRIPTOR_H

#include "runtime/support/Error.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ninc::rt {

/// One parameter: its spec shape (OIHW for conv weights) and where and how
/// it is stored in the blob ("HWCF" repacked, or "plain").
struct ParamSlot {
  std::string name;
  int64_t offset = 0;
  std::string layout;
  std::vector<int64_t> shape;
  int64_t numel() const;
};

struct ModelDescriptor {
  std::string model;
  int64_t batch = 0, channels = 0, height = 0, width = 0, classes = 0;
  /// A model that is not a classifier (a feature extractor: no num_classes)
  /// gives each image this output shape (e.g. C, H, W; NCHW), `classes` of
  /// them in all; empty for classifiers, whose output is [classes].
  std::vector<int64_t> output;
  uint64_t seed = 0;
  double magnitude = 3.0;
  int64_t blobSize = 0;
  int64_t arenaBytes = 0;  ///< Scratch for intermediates, allocated once by the caller.
  /// The arena's first bytes that ninc_infer keeps between calls (the
  /// weights' packed filters, rewritten when its repack flag is set); 0:
  /// none, or a descriptor that does not say.
  int64_t packedWeightBytes = 0;
  /// Scratch of ninc_train_step; 0 when the program cannot train.
  int64_t trainArenaBytes = 0;
  /// The spec's training recipe: defaults for `train`.
  float learningRate = 0.1f, momentum = 0.0f, weightDecay = 0.0f;
  int64_t epochs = 5;
  /// Threads of the generated parallel loops (what `bench` measures the FMA
  /// peak with); 1 when the descriptor does not say.
  int64_t threads = 1;
  /// The LLVM CPU the code was compiled for ("" when the descriptor does not
  /// say) and the ISA extensions of it the code may use ("avx2", "fma",
  /// "avx512f", ...: compiler/target/Target.h's list). The program refuses
  /// to run on a CPU that lacks one (instead of dying of SIGILL), and
  /// `bench --profile` measures the FMA peak at the code's vector width.
  std::string cpu;
  std::vector<std::string> isa;
  std::vector<ParamSlot> params;  ///< Canonical order (weight, bias per conv).
};

/// The extensions of `required` this machine's CPU lacks (x86-64: cpuid;
/// other hosts: none are checked).
std::vector<std::string> missingCpuFeatures(const std::vector<std::string> &required);

/// An error naming the CPU the program was compiled for and what this
/// machine lacks of it, or ok.
Status checkCpuCanRun(const ModelDescriptor &d);

/// The weights blob's layout, the one rule the conversion to linalg (its
/// `nin.params` table), the descriptor and the runtime's packer
/// (packParam / unpackParam, Weights.h) all follow: the parameters in
/// canonical order, each at a 16-float (64-byte) aligned offset, conv weights
/// (rank 4, OIHW in the spec) repacked "HWCF", the rest "plain". `params`
/// holds each parameter's name and spec shape; `blobSize` receives the
/// blob's floats (at least 1).
std::vector<ParamSlot> layoutBlob(
    const std::vector<std::pair<std::string, std::vector<int64_t>>> &params,
    int64_t &blobSize);

/// Parses a descriptor; errors name the line.
Expected<ModelDescriptor> parseDescriptor(const std::string &text);

/// Renders a descriptor (used by the compiler; parse(format(d)) == d).
std::string formatDescriptor(const ModelDescriptor &d);

} // namespace ninc::rt

#endif // NINC_RUNTIME_PROGRAM_DESCRIPTOR_H
