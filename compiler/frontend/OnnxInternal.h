//===- compiler/frontend/OnnxInternal.h - ONNX helpers (internal) -*- C++ -*-===//
//
// Private to compiler/frontend's ONNX import (OnnxImport.cpp): constant
// tensors and node attributes (OnnxConstants.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_FRONTEND_ONNXINTERNAL_H
#define NINC_COMPILER_FRONTEND_ONNXINTERNAL_H

#include "runtime/support/Error.h"

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

namespace ninc {

/// An initializer or Constant: float32 or int64 values (others keep only
/// their type and are refused where a layer needs them).
struct OnnxConstant {
  std::vector<int64_t> dims;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  int32_t type = onnx::TensorProto::FLOAT;
};

/// `t`'s values from float_data/int64_data or raw_data, checked against its
/// shape (sizes that fit in memory, finite floats, no external data).
/// `where` names it in errors ("initializer 'W'").
Expected<OnnxConstant> readOnnxConstant(const onnx::TensorProto &t, const std::string &where);

/// Attribute `name` of `n`, or the fallback / empty when absent.
int64_t intAttr(const onnx::NodeProto &n, const char *name, int64_t fallback);
std::vector<int64_t> intsAttr(const onnx::NodeProto &n, const char *name);
std::string stringAttr(const onnx::NodeProto &n, const char *name);

/// A spec identifier ([A-Za-z][A-Za-z0-9_-]*, at most 64 characters) made
/// from an ONNX name; `fallback` when nothing of it is left.
std::string onnxIdentifier(const std::string &name, const std::string &fallback);

/// `s` in lower case.
std::string onnxLower(std::string s);

/// Output size of a window along one axis (floor mode): input `in`, kernel
/// `k`, stride `s`, padding `p` on both sides.
inline int64_t windowOut(int64_t in, int64_t k, int64_t s, int64_t p) {
  return in + 2 * p < k ? 0 : (in + 2 * p - k) / s + 1;
}

/// "1, 2, 3".
std::string joinDims(const std::vector<int64_t> &d);

} // namespace ninc

#endif // NINC_COMPILER_FRONTEND_ONNXINTERNAL_H
