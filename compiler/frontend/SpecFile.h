//===- compiler/frontend/SpecFile.h - A parsed model file (internal) -*- C++ -*-===//
//
// Private to compiler/frontend: the protobuf message of a model file plus,
// for text files, where each field was written, so validation errors can
// point at file:line:column.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_FRONTEND_SPECFILE_H
#define NINC_COMPILER_FRONTEND_SPECFILE_H

#include "compiler/frontend/Frontend.h"
#include "nin.pb.h"

#include <google/protobuf/text_format.h>

#include <memory>
#include <string>
#include <vector>

namespace ninc {

/// One step of a path into the message: a field name and, for repeated
/// fields, an element index (-1 for singular fields).
struct FieldRef {
  std::string field;
  int index = -1;
};
using FieldPath = std::vector<FieldRef>;

/// A model file as read: its message and, for text, field locations.
struct SpecFile {
  std::string path;
  SpecFormat format = SpecFormat::Auto;
  spec::Model message;
  std::unique_ptr<google::protobuf::TextFormat::ParseInfoTree> locations;

  /// "path:line:col" of the deepest element of `fieldPath` the text file
  /// names (the element itself, or its closest written parent); "path" for
  /// binary files.
  std::string locate(const FieldPath &fieldPath) const;
};

/// Reads and parses `path` (no validation beyond the encoding).
Expected<std::unique_ptr<SpecFile>> readSpecFile(const std::string &path, SpecFormat format);

/// An ONNX model's bytes as the ninc model they describe, weights included
/// (OnnxImport.cpp); errors name the file and the node.
Expected<std::unique_ptr<SpecFile>> readOnnxFile(const std::string &path,
                                                 const std::string &bytes);

/// Writes `bytes` to `path` atomically: a temporary file beside it, renamed.
Status writeFileAtomically(const std::string &path, const std::string &bytes);

/// Writes `message` to `path` in `format` (Text or Binary), atomically.
Status writeSpecFile(const spec::Model &message, const std::string &path, SpecFormat format);

/// Checks every field of a parsed file and builds the Model (Validator.cpp).
Expected<Model> validateSpec(const SpecFile &file);

} // namespace ninc

#endif // NINC_COMPILER_FRONTEND_SPECFILE_H
