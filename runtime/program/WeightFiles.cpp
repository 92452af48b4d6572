//===- runtime/program/WeightFiles.cpp - Weights from ONNX and text files --===//
//
// `out/nin infer|train --weights FILE` takes, besides ninc's binary .pb
// (Weights.cpp), an ONNX model and a text model file, read without
// libprotobuf:
//   - ONNX: ModelProto.graph (7) -> GraphProto.node (1) {input 1, op_type 4}
//     and .initializer (5) TensorProto {dims 1, data_type 2, float_data 4,
//     name 8, raw_data 9, data_location 14}. The i-th Conv node's W and B
//     fill the program's i-th conv's weight and bias.
//   - text: the top-level `weights { name: "..." shape: [..] data: [..] }`
//     entries (both the list and the repeated-field spellings), every other
//     field skipped with its braces.
//
//===----------------------------------------------------------------------===//

#include "runtime/program/WeightsInternal.h"
#include "runtime/support/Wire.h"

#include <cctype>
#include <cmath>
#include <cstring>

namespace ninc::rt {
namespace {

struct OnnxTensor {
  std::vector<int64_t> dims;
  int64_t type = 0, location = 0;
  std::vector<float> floats;
  const uint8_t *raw = nullptr;
  uint64_t rawSize = 0;
};

bool readOnnxTensor(const uint8_t *p, uint64_t n, std::string &name, OnnxTensor &t) {
  return forEachField(p, n, [&](uint32_t number, uint32_t type, const uint8_t *data,
                                uint64_t size) {
    if (number == 1 && (type == 0 || type == 2)) // dims
      return appendInts(type, data, size, t.dims);
    if (number == 4 && (type == 2 || type == 5)) // float_data
      return appendFloats(type, data, size, t.floats);
    if (number == 2 && type == 0)
      t.type = int64_t(size);
    else if (number == 8 && type == 2)
      name.assign(reinterpret_cast<const char *>(data), size);
    else if (number == 9 && type == 2)
      t.raw = data, t.rawSize = size;
    else if (number == 14 && type == 0)
      t.location = int64_t(size);
    return true;
  });
}

/// A Conv node's inputs (X, W, B), or empty for other nodes.
bool readOnnxNode(const uint8_t *p, uint64_t n, std::vector<std::string> &convInputs,
                  bool &isConv) {
  std::vector<std::string> inputs;
  isConv = false;
  if (!forEachField(p, n, [&](uint32_t number, uint32_t type, const uint8_t *data,
                              uint64_t size) {
        if (number == 1 && type == 2)
          inputs.emplace_back(reinterpret_cast<const char *>(data), size);
        else if (number == 4 && type == 2)
          isConv = std::string(reinterpret_cast<const char *>(data), size) == "Conv";
        return true;
      }))
    return false;
  if (isConv)
    convInputs = std::move(inputs);
  return true;
}

} // namespace

Expected<std::map<std::string, TensorRecord>> readOnnxTensors(const std::string &bytes,
                                                              const std::string &path,
                                                              const ModelDescriptor &d) {
  auto fail = [&](const std::string &what) { return Error{path + ": error: " + what}; };
  const auto *p = reinterpret_cast<const uint8_t *>(bytes.data());
  const uint8_t *graph = nullptr;
  uint64_t graphSize = 0;
  WireReader model(p, p + bytes.size());
  while (!model.done()) {
    uint32_t number, type;
    const uint8_t *data;
    uint64_t size;
    if (!model.field(number, type, data, size))
      return fail("expected an ONNX model (onnx.ModelProto), found bytes that are not protobuf");
    if (number == 7 && type == 2)
      graph = data, graphSize = size;
  }
  if (!graph)
    return fail("the ONNX model has no graph");
  std::map<std::string, OnnxTensor> initializers;
  std::vector<std::vector<std::string>> convs;
  WireReader g(graph, graph + graphSize);
  while (!g.done()) {
    uint32_t number, type;
    const uint8_t *data;
    uint64_t size;
    if (!g.field(number, type, data, size))
      return fail("the ONNX graph is malformed");
    if (number == 1 && type == 2) {
      std::vector<std::string> inputs;
      bool isConv;
      if (!readOnnxNode(data, size, inputs, isConv))
        return fail("an ONNX node is malformed");
      if (isConv)
        convs.push_back(std::move(inputs));
    } else if (number == 5 && type == 2) {
      std::string name;
      OnnxTensor t;
      if (!readOnnxTensor(data, size, name, t))
        return fail("an ONNX initializer is malformed");
      initializers[name] = std::move(t);
    }
  }
  // The program's conv parameters in order: (weight slot, bias slot or null).
  std::vector<std::pair<const ParamSlot *, const ParamSlot *>> slots;
  for (const ParamSlot &s : d.params) {
    if (s.shape.size() == 4)
      slots.push_back({&s, nullptr});
    else if (!slots.empty())
      slots.back().second = &s;
  }
  if (convs.size() != slots.size())
    return fail("the ONNX model has " + std::to_string(convs.size()) + " Conv nodes; model '" +
                d.model + "' has " + std::to_string(slots.size()) + " convolutions");
  std::map<std::string, TensorRecord> out;
  for (size_t i = 0; i < convs.size(); ++i) {
    for (int k = 1; k <= 2; ++k) {
      const ParamSlot *slot = k == 1 ? slots[i].first : slots[i].second;
      const bool given = int(convs[i].size()) > k && !convs[i][k].empty();
      if (!slot && !given)
        continue;
      if (!slot || !given)
        return fail("Conv node " + std::to_string(i + 1) + (given ? " has" : " has no") +
                    " bias; model '" + d.model + "''s conv " + std::to_string(i + 1) +
                    (slot ? " has one" : " has none"));
      auto it = initializers.find(convs[i][k]);
      if (it == initializers.end())
        return fail("Conv node " + std::to_string(i + 1) + "'s input '" + convs[i][k] +
                    "' is not an initializer");
      const OnnxTensor &t = it->second;
      if (t.type != 1 || t.location != 0)
        return fail("initializer '" + convs[i][k] + "': expected float32 data in the file");
      TensorRecord rec{slot->name, t.dims, t.floats};
      if (t.raw) {
        if (t.rawSize % 4)
          return fail("initializer '" + convs[i][k] + "': raw data of " +
                      std::to_string(t.rawSize) + " bytes is not float32");
        rec.data.resize(t.rawSize / 4);
        std::memcpy(rec.data.data(), t.raw, t.rawSize);
      }
      out[slot->name] = std::move(rec);
    }
  }
  return out;
}

namespace {

/// Tokens of the protobuf text format: identifiers, numbers, strings and
/// punctuation; comments skipped.
class TextTokens {
public:
  explicit TextTokens(const std::string &s) : s_(s) {}

  /// The next token ("" at the end); strings come back without quotes and
  /// with `isString` set.
  std::string next(bool &isString) {
    isString = false;
    while (i_ < s_.size()) {
      if (std::isspace(static_cast<unsigned char>(s_[i_]))) {
        ++i_;
      } else if (s_[i_] == '#') {
        while (i_ < s_.size() && s_[i_] != '\n')
          ++i_;
      } else {
        break;
      }
    }
    if (i_ >= s_.size())
      return "";
    const char c = s_[i_];
    if (c == '"' || c == '\'') {
      std::string out;
      for (++i_; i_ < s_.size() && s_[i_] != c; ++i_) {
        if (s_[i_] == '\\' && i_ + 1 < s_.size())
          ++i_;
        out += s_[i_];
      }
      ++i_;
      isString = true;
      return out;
    }
    if (std::strchr("{}[]<>:,;", c)) {
      ++i_;
      return std::string(1, c);
    }
    size_t start = i_;
    while (i_ < s_.size() && !std::isspace(static_cast<unsigned char>(s_[i_])) &&
           !std::strchr("{}[]<>:,;#\"'", s_[i_]))
      ++i_;
    return s_.substr(start, i_ - start);
  }

private:
  const std::string &s_;
  size_t i_ = 0;
};

} // namespace

Expected<std::map<std::string, TensorRecord>> readTextTensors(const std::string &bytes,
                                                              const std::string &path) {
  auto fail = [&](const std::string &what) { return Error{path + ": error: " + what}; };
  TextTokens tokens(bytes);
  std::map<std::string, TensorRecord> out;
  int depth = 0;
  bool isString = false;
  for (std::string tok = tokens.next(isString); !tok.empty(); tok = tokens.next(isString)) {
    if (isString)
      continue;
    if (tok == "{" || tok == "<") {
      ++depth;
      continue;
    }
    if (tok == "}" || tok == ">") {
      if (--depth < 0)
        return fail("unbalanced braces in the text model");
      continue;
    }
    if (depth != 0 || tok != "weights")
      continue;
    std::string open = tokens.next(isString);
    if (open == ":")
      open = tokens.next(isString);
    if (open != "{" && open != "<")
      return fail("expected '{' after 'weights'");
    TensorRecord t;
    std::string field;
    bool inList = false;
    for (tok = tokens.next(isString); !tok.empty(); tok = tokens.next(isString)) {
      if (!isString && (tok == "}" || tok == ">"))
        break;
      if (!isString && (tok == ":" || tok == "," || tok == ";"))
        continue;
      if (!isString && tok == "[") {
        inList = true;
        continue;
      }
      if (!isString && tok == "]") {
        inList = false;
        continue;
      }
      if (!inList && !isString && (tok == "name" || tok == "shape" || tok == "data")) {
        field = tok;
        continue;
      }
      if (field == "name" && isString) {
        t.name = tok;
      } else if (field == "shape" || field == "data") {
        char *end = nullptr;
        const double v = std::strtod(tok.c_str(), &end);
        if (!end || *end)
          return fail("weights '" + t.name + "': expected a number in '" + field + "', found '" +
                      tok + "'");
        if (field == "shape")
          t.shape.push_back(int64_t(v));
        else
          t.data.push_back(float(v));
      } else {
        return fail("weights: unexpected '" + tok + "'");
      }
    }
    if (tok.empty())
      return fail("a 'weights' entry is not closed");
    out[t.name] = std::move(t);
  }
  if (depth != 0)
    return fail("unbalanced braces in the text model");
  return out;
}

} // namespace ninc::rt
