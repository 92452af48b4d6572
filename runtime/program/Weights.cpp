//===- runtime/program/Weights.cpp - The weights blob of a compiled model -===//

#include "runtime/program/Weights.h"
#include "runtime/program/WeightsInternal.h"
#include "runtime/support/Wire.h"
#include "runtime/support/Init.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

/// `ninc compile` of a model file with weights (Compile.cpp's
/// addProgramSymbols): those weights, as the binary model format encodes
/// them, and the file's name. Absent otherwise.
extern "C" {
__attribute__((weak)) extern const unsigned char ninc_weights[];
__attribute__((weak)) extern const uint64_t ninc_weights_size;
__attribute__((weak)) extern const char ninc_weights_origin[];
}

namespace ninc::rt {

namespace {

/// Calls copy(blobIndex, specIndex) for every element of `slot`, the blob
/// index relative to slot.offset: the one mapping packParam and unpackParam
/// share. HWCF: OIHW [O, I, KH, KW] <-> HWCF [KH, KW, I, O].
template <typename Copy> void forEachElement(const ParamSlot &slot, Copy copy) {
  if (slot.layout != "HWCF") {
    for (int64_t j = 0, n = slot.numel(); j < n; ++j)
      copy(j, j);
    return;
  }
  const int64_t o = slot.shape[0], c = slot.shape[1], kh = slot.shape[2], kw = slot.shape[3];
  for (int64_t f = 0; f < o; ++f)
    for (int64_t i = 0; i < c; ++i)
      for (int64_t y = 0; y < kh; ++y)
        for (int64_t x = 0; x < kw; ++x)
          copy(((y * kw + x) * c + i) * o + f, ((f * c + i) * kh + y) * kw + x);
}

} // namespace

void packParam(const ParamSlot &slot, const float *src, float *blob) {
  float *dst = blob + slot.offset;
  forEachElement(slot, [&](int64_t b, int64_t s) { dst[b] = src[s]; });
}

void unpackParam(const ParamSlot &slot, const float *blob, float *dst) {
  const float *src = blob + slot.offset;
  forEachElement(slot, [&](int64_t b, int64_t s) { dst[s] = src[b]; });
}

std::vector<float> initialWeights(const ModelDescriptor &d) {
  std::vector<float> blob(d.blobSize, 0.0f);
  std::vector<float> spec;
  for (size_t p = 0; p < d.params.size(); ++p) {
    const ParamSlot &slot = d.params[p];
    spec.assign(slot.numel(), 0.0f);
    if (slot.shape.size() == 4) { // conv weight; biases stay zero
      int64_t area = slot.shape[2] * slot.shape[3];
      double s = xavierScale(slot.shape[1] * area, slot.shape[0] * area, d.magnitude);
      for (int64_t j = 0; j < slot.numel(); ++j)
        spec[j] = static_cast<float>(xavierValue(d.seed, p, j, s));
    }
    packParam(slot, spec.data(), blob.data());
  }
  return blob;
}

namespace {

bool parseTensor(const uint8_t *p, uint64_t n, TensorRecord &t) {
  return forEachField(p, n, [&](uint32_t number, uint32_t type, const uint8_t *data,
                                uint64_t size) {
    if (number == 2 && (type == 0 || type == 2)) // shape: int64s
      return appendInts(type, data, size, t.shape);
    if (number == 3 && (type == 2 || type == 5)) // data: floats
      return appendFloats(type, data, size, t.data);
    if (number == 1 && type == 2)
      t.name.assign(reinterpret_cast<const char *>(data), size);
    return true;
  });
}

} // namespace

Expected<std::vector<float>> loadWeights(const std::string &path, const ModelDescriptor &d) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error{path + ": error: cannot open weights file: " + std::strerror(errno)};
  std::ostringstream buf;
  buf << in.rdbuf();
  const std::string bytes = buf.str();
  if (bytes.empty())
    return Error{path + ": error: expected a model file with weights, found an empty file"};
  auto endsWith = [&](const char *ext) {
    const size_t n = std::strlen(ext);
    return path.size() >= n && path.compare(path.size() - n, n, ext) == 0;
  };
  Expected<std::map<std::string, TensorRecord>> tensors = Error{""};
  if (endsWith(".onnx"))
    tensors = readOnnxTensors(bytes, path, d);
  else if (endsWith(".pbtxt") || endsWith(".txt") || endsWith(".prototxt") ||
           endsWith(".textproto"))
    tensors = readTextTensors(bytes, path);
  else
    return parseWeights(bytes.data(), bytes.size(), path, d);
  if (!tensors)
    return tensors.error();
  return blobFromTensors(*tensors, path, d);
}

Expected<std::vector<float>> parseWeights(const void *bytes, uint64_t size,
                                          const std::string &path, const ModelDescriptor &d) {
  auto fail = [&](const std::string &what) { return Error{path + ": error: " + what}; };
  std::map<std::string, TensorRecord> tensors;
  const auto *p = static_cast<const uint8_t *>(bytes);
  WireReader r(p, p + size);
  while (!r.done()) {
    uint32_t number, type;
    const uint8_t *data;
    uint64_t size;
    if (!r.field(number, type, data, size))
      return fail("expected a binary ninc model (.pb), found bytes that are not protobuf (a "
                  "text model must be named *.pbtxt, an ONNX model *.onnx)");
    if (number != 5 || type != 2) // Model.weights
      continue;
    TensorRecord t;
    if (!parseTensor(data, size, t))
      return fail("a weights tensor is malformed");
    tensors[t.name] = std::move(t);
  }
  return blobFromTensors(tensors, path, d);
}

Expected<std::vector<float>> blobFromTensors(const std::map<std::string, TensorRecord> &tensors,
                                             const std::string &path, const ModelDescriptor &d) {
  auto fail = [&](const std::string &what) { return Error{path + ": error: " + what}; };
  if (tensors.empty())
    return fail("expected a model file with weights, found none");
  std::vector<float> blob(d.blobSize, 0.0f);
  for (const ParamSlot &slot : d.params) {
    auto it = tensors.find(slot.name);
    if (it == tensors.end())
      return fail("weights: expected a tensor named '" + slot.name + "', found none");
    const TensorRecord &t = it->second;
    if (t.shape != slot.shape || int64_t(t.data.size()) != slot.numel())
      return fail("weights '" + slot.name + "': expected " + std::to_string(slot.numel()) +
                  " values in the shape the model was compiled for, found " +
                  std::to_string(t.data.size()));
    for (size_t j = 0; j < t.data.size(); ++j)
      if (!std::isfinite(t.data[j]))
        return fail("weights '" + slot.name + "'[" + std::to_string(j) +
                    "]: expected a finite value");
    packParam(slot, t.data.data(), blob.data());
  }
  return blob;
}

Expected<std::vector<float>> defaultWeights(const ModelDescriptor &d, std::string &origin) {
  if (ninc_weights && ninc_weights_size > 0) {
    const std::string from = ninc_weights_origin ? ninc_weights_origin : "the model file";
    origin = "weights of " + from + " (embedded)";
    return parseWeights(ninc_weights, ninc_weights_size, from + " (embedded in this program)", d);
  }
  origin = "untrained: Xavier init, seed " + std::to_string(d.seed);
  return initialWeights(d);
}

bool hasEmbeddedWeights() { return ninc_weights && ninc_weights_size > 0; }

} // namespace ninc::rt
