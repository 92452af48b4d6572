//===- runtime/program/WeightsInternal.h - Weights files (internal) -*- C++ -*-===//
//
// Private to runtime/program/Weights.cpp and WeightFiles.cpp: the tensors a
// model file holds, by the name of the parameter they fill, and the readers
// of the files that are not ninc's binary .pb (ONNX, text .pbtxt).
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_PROGRAM_WEIGHTSINTERNAL_H
#define NINC_RUNTIME_PROGRAM_WEIGHTSINTERNAL_H

#include "runtime/program/Descriptor.h"

#include <map>
#include <string>
#include <vector>

namespace ninc::rt {

struct TensorRecord {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

/// The blob from tensors named as the descriptor's parameters (shapes and
/// finite values checked); errors name `path`.
Expected<std::vector<float>> blobFromTensors(const std::map<std::string, TensorRecord> &tensors,
                                             const std::string &path, const ModelDescriptor &d);

/// An ONNX model's Conv weights and biases, in graph order, named after the
/// descriptor's conv parameters in theirs (the same architecture exported
/// by PyTorch, ninc export, ...); shapes are checked by blobFromTensors.
Expected<std::map<std::string, TensorRecord>> readOnnxTensors(const std::string &bytes,
                                                              const std::string &path,
                                                              const ModelDescriptor &d);

/// The top-level `weights { name shape data }` entries of a text model file.
Expected<std::map<std::string, TensorRecord>> readTextTensors(const std::string &bytes,
                                                              const std::string &path);

} // namespace ninc::rt

#endif // NINC_RUNTIME_PROGRAM_WEIGHTSINTERNAL_H
