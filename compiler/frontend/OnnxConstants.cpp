//===- compiler/frontend/OnnxConstants.cpp - ONNX tensors and attributes ---===//

#include "compiler/frontend/OnnxInternal.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

namespace ninc {

Expected<OnnxConstant> readOnnxConstant(const onnx::TensorProto &t, const std::string &where) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL || t.external_data_size() > 0)
    return Error{where + " keeps its data in an external file; ninc reads self-contained "
                         "models (save with onnx.save_model(..., save_as_external_data=False))"};
  if (t.has_segment())
    return Error{where + " is segmented; ninc reads whole tensors"};
  int64_t numel = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || d > (int64_t(1) << 31) || numel > (int64_t(1) << 31) / std::max<int64_t>(d, 1))
      return Error{where + ": expected dimensions that fit in memory, found " +
                   std::to_string(d)};
    numel *= d;
  }
  OnnxConstant c;
  c.dims.assign(t.dims().begin(), t.dims().end());
  c.type = t.data_type();
  // Values from raw_data (little-endian, as this host) or the typed field.
  auto take = [&](auto &out, const auto &typed, size_t size, const char *kind) -> Status {
    if (!t.raw_data().empty()) {
      if (int64_t(t.raw_data().size()) != numel * int64_t(size))
        return Error{where + ": expected " + std::to_string(numel * size) + " bytes of raw " +
                     kind + " data for its shape, found " + std::to_string(t.raw_data().size())};
      out.resize(numel);
      std::memcpy(out.data(), t.raw_data().data(), numel * size);
      return Status::ok();
    }
    if (typed.size() != numel)
      return Error{where + ": expected " + std::to_string(numel) + " " + kind +
                   " values for its shape, found " + std::to_string(typed.size())};
    out.assign(typed.begin(), typed.end());
    return Status::ok();
  };
  Status s = Status::ok();
  if (t.data_type() == onnx::TensorProto::FLOAT)
    s = take(c.floats, t.float_data(), 4, "float");
  else if (t.data_type() == onnx::TensorProto::INT64)
    s = take(c.ints, t.int64_data(), 8, "int64");
  else if (t.data_type() == onnx::TensorProto::BOOL) {
    std::vector<uint8_t> flags;
    s = take(flags, t.int32_data(), 1, "bool");
    c.ints.assign(flags.begin(), flags.end());
  }
  if (!s)
    return s.error();
  for (float v : c.floats)
    if (!std::isfinite(v))
      return Error{where + ": expected finite values, found " + std::to_string(v)};
  return c;
}

int64_t intAttr(const onnx::NodeProto &n, const char *name, int64_t fallback) {
  for (const onnx::AttributeProto &a : n.attribute())
    if (a.name() == name)
      return a.i();
  return fallback;
}

std::vector<int64_t> intsAttr(const onnx::NodeProto &n, const char *name) {
  for (const onnx::AttributeProto &a : n.attribute())
    if (a.name() == name)
      return {a.ints().begin(), a.ints().end()};
  return {};
}

std::string stringAttr(const onnx::NodeProto &n, const char *name) {
  for (const onnx::AttributeProto &a : n.attribute())
    if (a.name() == name)
      return a.s();
  return "";
}

std::string onnxIdentifier(const std::string &name, const std::string &fallback) {
  std::string out;
  for (char c : name) {
    bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '-';
    if (keep)
      out += c;
    else if (!out.empty() && out.back() != '_')
      out += '_'; // "/0/0/Conv" -> "0_0_Conv"
  }
  while (!out.empty() && out.back() == '_')
    out.pop_back();
  if (out.empty())
    return fallback;
  if (!std::isalpha(static_cast<unsigned char>(out[0])))
    out = "n" + out;
  return out.substr(0, 64);
}

std::string onnxLower(std::string s) {
  for (char &c : s)
    c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string joinDims(const std::vector<int64_t> &d) {
  std::string s;
  for (size_t i = 0; i < d.size(); ++i)
    s += (i ? ", " : "") + std::to_string(d[i]);
  return s;
}

} // namespace ninc
