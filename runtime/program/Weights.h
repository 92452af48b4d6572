//===- runtime/program/Weights.h - The weights blob of a compiled model -*- C++ -*-===//
//
// A compiled model reads its parameters from one float blob laid out as its
// descriptor says (conv weights repacked OIHW -> HWCF once, here, at load
// time). The blob is filled either by seeded Xavier initialisation
// (bit-identical to the reference interpreter's) or from the `weights` of a
// binary model file (.pb), read with a small protobuf wire-format reader so
// compiled programs do not need libprotobuf.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_PROGRAM_WEIGHTS_H
#define NINC_RUNTIME_PROGRAM_WEIGHTS_H

#include "runtime/program/Descriptor.h"

#include <string>
#include <vector>

namespace ninc::rt {

/// Copies one parameter given in spec layout (OIHW for conv weights) into
/// its place and layout in `blob`.
void packParam(const ParamSlot &slot, const float *specData, float *blob);

/// The inverse of packParam: copies one parameter out of `blob` into
/// `specData` (slot.numel() floats) in spec layout (OIHW for conv weights).
void unpackParam(const ParamSlot &slot, const float *blob, float *specData);

/// The blob with Xavier-uniform weights from the descriptor's seed and zero
/// biases.
std::vector<float> initialWeights(const ModelDescriptor &d);

/// The blob with the weights of a model file: ninc's binary .pb or text
/// .pbtxt (all parameters, names and shapes as the descriptor says), or an
/// ONNX model (its Conv nodes' weights and biases in order,
/// WeightFiles.cpp); finite values. Errors name the file and the tensor.
Expected<std::vector<float>> loadWeights(const std::string &path, const ModelDescriptor &d);

/// loadWeights of bytes already in memory; `path` names them in errors.
Expected<std::vector<float>> parseWeights(const void *bytes, uint64_t size,
                                          const std::string &path, const ModelDescriptor &d);

/// The weights a program or library starts from when given none: those
/// `ninc compile` embedded from the model file (a checkpoint, an imported
/// ONNX model), else initialWeights. `origin` says which, for the run's
/// header.
Expected<std::vector<float>> defaultWeights(const ModelDescriptor &d, std::string &origin);

/// Whether `ninc compile` embedded the model file's weights.
bool hasEmbeddedWeights();

} // namespace ninc::rt

#endif // NINC_RUNTIME_PROGRAM_WEIGHTS_H
