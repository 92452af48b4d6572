//===- compiler/frontend/Frontend.h - Reading and writing model files -*- C++ -*-===//
//
// The frontend turns a model file (text .pbtxt or binary .pb, see
// models/nin.proto) into a validated ninc::Model, and converts between the two
// encodings. It is the only part of ninc that sees protobuf: nothing in this
// header does.
//
// Every error names the file and, where it applies, the line:column, the
// layer (index and name) and the field, then what was expected and what was
// found, e.g.
//   bad.pbtxt:14:32: error: layers[3] 'pool2' (max_pool): field 'stride':
//   expected values in 1..1024, found 0
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_FRONTEND_FRONTEND_H
#define NINC_COMPILER_FRONTEND_FRONTEND_H

#include "compiler/model/Model.h"
#include "runtime/support/Error.h"

#include <optional>
#include <string>

namespace ninc {

/// Model file encodings: ninc's schema as text or binary protobuf, or an
/// ONNX model (read only, compiler/frontend/OnnxImport.cpp).
enum class SpecFormat { Auto, Text, Binary, Onnx };

/// Largest model file read (weights of the d2l NiN are 8 MB).
constexpr int64_t kMaxModelFileBytes = 1ll << 30;

/// Reads, parses and validates a model file into a Model (NiN blocks
/// expanded, defaults filled, weights checked against the layers).
/// `Auto` decides the encoding from the extension (.pbtxt/.txt/.prototxt:
/// text; .pb/.bin: binary), otherwise from the content.
Expected<Model> loadModel(const std::string &path, SpecFormat format = SpecFormat::Auto);

/// Prints `message` to standard error in ninc's one format for errors: as it
/// is when it already says "error: " (then it names its file, or ninc), else
/// after "ninc: error: ".
void printError(const std::string &message);

/// loadModel for the tools' entry points: the model, or nullopt once its
/// error is printed (printError).
std::optional<Model> loadModelOrReport(const std::string &path);

struct ConvertOptions {
  SpecFormat from = SpecFormat::Auto;
  SpecFormat to = SpecFormat::Auto;  ///< Auto: from the output's extension.
  bool validate = true;              ///< Refuse invalid models.
};

/// Converts a model file between text and binary without loss (the same
/// message comes out). The output is written atomically: complete or absent.
Status convertModelFile(const std::string &input, const std::string &output,
                        const ConvertOptions &options = {});

/// Writes `model` back as a self-contained model file: its spec as read,
/// with `model.weights` (all parameters, parameterList order) as its weights,
/// or none if empty. The encoding comes from `format`, else the extension
/// (binary when it implies none). Written atomically: complete or absent.
Status saveModel(const Model &model, const std::string &path, SpecFormat format = SpecFormat::Auto);

/// `model.weights` as the binary model format encodes them: a sequence of
/// Model.weights records (field 5), which is also what a binary model file
/// holding only weights is. Compiled programs embed these bytes and read
/// them with the runtime's own wire reader (runtime/program/Weights.h).
std::string encodeWeights(const Model &model);

/// Writes `model` (layers expanded, with all its weights) as an ONNX model
/// (opset 13, symbolic batch) that passes onnx.checker, atomically
/// (OnnxExport.cpp).
Status exportOnnx(const Model &model, const std::string &path);

/// The encoding a path's extension implies, or Auto when it implies none.
SpecFormat formatFromExtension(const std::string &path);

} // namespace ninc

#endif // NINC_COMPILER_FRONTEND_FRONTEND_H
