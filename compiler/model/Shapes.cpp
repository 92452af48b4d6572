//===- compiler/model/Shapes.cpp - The shape rules ------------------------===//

#include "compiler/model/Shapes.h"

#include <sstream>

namespace ninc {

const char *opKindName(OpKind kind) {
  switch (kind) {
  case OpKind::Conv2D: return "conv";
  case OpKind::ReLU: return "relu";
  case OpKind::MaxPool2D: return "max_pool";
  case OpKind::AvgPool2D: return "avg_pool";
  case OpKind::GlobalAvgPool: return "global_avg_pool";
  case OpKind::Dropout: return "dropout";
  case OpKind::Flatten: return "flatten";
  }
  return "?";
}

int64_t ParamInfo::numel() const { return numElements(shape); }

int64_t numElements(const Shape &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

static std::string joinShape(const Shape &shape, const char *open, const char *close) {
  std::ostringstream os;
  os << open;
  for (size_t i = 0; i < shape.size(); ++i)
    os << (i ? ", " : "") << shape[i];
  os << close;
  return os.str();
}

std::string formatShape(const Shape &shape) { return joinShape(shape, "[", "]"); }
std::string formatShapeTuple(const Shape &shape) { return joinShape(shape, "(", ")"); }

std::string describeLayer(const Model &model, int layerIndex) {
  const Layer &layer = model.layers[layerIndex];
  const SpecLayer &spec = model.specLayers[layer.specIndex];
  std::string s = "layers[" + std::to_string(layer.specIndex) + "] '" + spec.name +
                  "' (" + spec.op + ")";
  if (spec.endLayer - spec.firstLayer > 1 || spec.name != layer.name)
    s += std::string(", ") + opKindName(layer.kind) + " '" + layer.name + "'";
  return s;
}

Shape inputShape(const Model &model, int64_t batch) {
  return {batch, model.channels, model.height, model.width};
}

namespace {

/// Checks one layer against the shape of its input; returns its output shape.
class ShapeChecker {
public:
  ShapeChecker(const Model &model) : model_(model) {}

  Expected<Shape> apply(int index, const Shape &in) {
    const Layer &layer = model_.layers[index];
    where_ = describeLayer(model_, index);
    switch (layer.kind) {
    case OpKind::Conv2D: return conv(layer.conv, in);
    case OpKind::MaxPool2D:
    case OpKind::AvgPool2D: return pool(layer.pool, in);
    case OpKind::GlobalAvgPool:
      if (in.size() != 4) return rankError(in);
      return Shape{in[0], in[1], 1, 1};
    case OpKind::Flatten:
      if (in.size() != 4) return rankError(in);
      return Shape{in[0], in[1] * in[2] * in[3]};
    case OpKind::ReLU:
    case OpKind::Dropout: return in;
    }
    return fail("", "a known op", "an unknown one");
  }

private:
  Error fail(const std::string &field, const std::string &expected,
             const std::string &found) const {
    std::string f = field.empty() ? "" : " field '" + field + "':";
    return Error{where_ + ":" + f + " expected " + expected + ", found " + found};
  }

  Error rankError(const Shape &in) const {
    return fail("", "a 4-D input [N, C, H, W]", formatShape(in) +
                " (a layer after flatten needs a 4-D input)");
  }

  Expected<Shape> conv(const Conv2DAttrs &a, const Shape &in) {
    if (in.size() != 4) return rankError(in);
    int64_t oh = slidingOutput(in[2], a.kernel.h, a.stride.h, a.padding.h);
    int64_t ow = slidingOutput(in[3], a.kernel.w, a.stride.w, a.padding.w);
    if (oh < 1 || ow < 1) return windowError(a.kernel, a.padding, in);
    Shape out{in[0], a.outChannels, oh, ow};
    if (out[1] * oh * ow > ShapeLimits::kMaxImageElems)
      return fail("out_channels", "an output of at most 2^31 elements per image",
                  formatShape(out));
    return out;
  }

  Expected<Shape> pool(const Pool2DAttrs &a, const Shape &in) {
    if (in.size() != 4) return rankError(in);
    if (2 * a.padding.h > a.kernel.h || 2 * a.padding.w > a.kernel.w)
      return fail("padding", "at most half the window " + hw(a.kernel),
                  hw(a.padding) + " (some windows would hold only padding)");
    int64_t oh = slidingOutput(in[2], a.kernel.h, a.stride.h, a.padding.h);
    int64_t ow = slidingOutput(in[3], a.kernel.w, a.stride.w, a.padding.w);
    if (oh < 1 || ow < 1) return windowError(a.kernel, a.padding, in);
    return Shape{in[0], in[1], oh, ow};
  }

  Error windowError(HW kernel, HW pad, const Shape &in) const {
    return fail("kernel_size",
                "a window that fits the padded input " +
                    std::to_string(in[2] + 2 * pad.h) + "x" + std::to_string(in[3] + 2 * pad.w) +
                    " (input " + formatShape(in) + ")",
                "kernel " + hw(kernel) + ": the output would have no pixels");
  }

  static std::string hw(HW v) { return std::to_string(v.h) + "x" + std::to_string(v.w); }

  const Model &model_;
  std::string where_;
};

} // namespace

Expected<std::vector<Shape>> inferShapes(const Model &model, int64_t batch) {
  if (batch < 1 || batch > ShapeLimits::kMaxBatch)
    return Error{"batch size: expected 1.." + std::to_string(ShapeLimits::kMaxBatch) +
                 ", found " + std::to_string(batch)};
  std::vector<Shape> shapes;
  Shape cur = inputShape(model, batch);
  if (model.channels * model.height * model.width > ShapeLimits::kMaxImageElems)
    return Error{"input: expected at most 2^31 elements per image, found " + formatShape(cur)};
  ShapeChecker checker(model);
  for (int i = 0; i < static_cast<int>(model.layers.size()); ++i) {
    Expected<Shape> out = checker.apply(i, cur);
    if (!out) return out.error();
    cur = *out;
    shapes.push_back(cur);
  }
  Shape want{batch, model.numClasses};
  if (model.numClasses > 0 && cur != want) { // 0: a feature extractor ends anyhow
    std::string last = model.layers.empty() ? std::string("the input")
                                            : describeLayer(model, model.layers.size() - 1);
    return Error{"model output: expected logits " + formatShape(want) +
                 " (num_classes " + std::to_string(model.numClasses) + "), found " +
                 formatShape(cur) + " from " + last};
  }
  return shapes;
}

std::vector<ParamInfo> parameterList(const Model &model) {
  std::vector<ParamInfo> params;
  int64_t inChannels = model.channels;
  for (int i = 0; i < static_cast<int>(model.layers.size()); ++i) {
    const Layer &layer = model.layers[i];
    if (layer.kind != OpKind::Conv2D)
      continue;
    const Conv2DAttrs &c = layer.conv;
    int64_t area = c.kernel.h * c.kernel.w;
    ParamInfo w{layer.name + ".weight", {c.outChannels, inChannels, c.kernel.h, c.kernel.w},
                i, false, inChannels * area, c.outChannels * area};
    params.push_back(w);
    if (c.bias)
      params.push_back(ParamInfo{layer.name + ".bias", {c.outChannels}, i, true, 0, 0});
    inChannels = c.outChannels;
  }
  return params;
}

} // namespace ninc
