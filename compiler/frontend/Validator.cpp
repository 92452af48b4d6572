//===- compiler/frontend/Validator.cpp - Checking a spec, building a Model ===//
//
// Walks the parsed message field by field. The first problem found is
// reported as "<file:line:col>: error: <layer>: field '<f>': expected <x>,
// found <y>"; a valid message becomes a Model with NiN blocks expanded and
// defaults filled. Shape rules are not repeated here: they are
// compiler/model/Shapes.cpp's, called once the layers are known.
//
//===----------------------------------------------------------------------===//

#include "compiler/frontend/SpecFile.h"
#include "compiler/model/Shapes.h"

#include <cmath>
#include <map>
#include <optional>
#include <set>

namespace ninc {

namespace {

using google::protobuf::RepeatedField;

std::string str(int64_t v) { return std::to_string(v); }
std::string str(int v) { return std::to_string(v); }

std::string str(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string range(int64_t lo, int64_t hi) { return "a value in " + str(lo) + ".." + str(hi); }

bool isIdentifier(const std::string &s, bool allowDash) {
  if (s.empty() || s.size() > 128 || std::isdigit(static_cast<unsigned char>(s[0])))
    return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '_' || (allowDash && c == '-')))
      return false;
  return true;
}

/// Offset of the first byte that breaks UTF-8 (protobuf's text parser does
/// not check; its binary writer and reader do), or npos.
size_t invalidUtf8(const std::string &s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size())
      return i;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2)
        return i;
    i += len;
  }
  return std::string::npos;
}

class Validator {
public:
  explicit Validator(const SpecFile &file) : file_(file), spec_(file.message) {}

  Expected<Model> run() {
    model_.sourcePath = file_.path;
    if (Status s = header(); !s) return s.error();
    if (Status s = layers(); !s) return s.error();
    if (Status s = training(); !s) return s.error();
    Expected<std::vector<Shape>> shapes = inferShapes(model_, 1);
    if (!shapes)
      return Error{file_.locate(shapeErrorPath(shapes.message())) + ": error: " +
                   shapes.message()};
    if (Status s = params(); !s) return s.error();
    if (Status s = weights(); !s) return s.error();
    spec::Model withoutWeights = spec_;
    withoutWeights.clear_weights();
    withoutWeights.SerializeToString(&model_.specBytes);
    return std::move(model_);
  }

private:
  /// "<loc>: error: <context>: field '<name>': expected <e>, found <f>".
  Error fail(const FieldPath &path, const std::string &context, const std::string &name,
             const std::string &expected, const std::string &found) const {
    std::string where = context.empty() ? "" : context + ": ";
    return Error{file_.locate(path) + ": error: " + where + "field '" + name + "': expected " +
                 expected + ", found " + found};
  }

  Status checkRange(int64_t v, int64_t lo, int64_t hi, const FieldPath &path,
                    const std::string &context, const std::string &name) const {
    if (v < lo || v > hi) return fail(path, context, name, range(lo, hi), str(v));
    return Status::ok();
  }

  Status header() {
    if (!isIdentifier(spec_.name(), true))
      return fail({{"name"}}, "", "name",
                  "a model name of letters, digits, '_' or '-' (not starting with a digit)",
                  spec_.name().empty() ? "none" : "\"" + spec_.name() + "\"");
    model_.name = spec_.name();
    if (size_t bad = invalidUtf8(spec_.description()); bad != std::string::npos)
      return fail({{"description"}}, "", "description", "UTF-8 text",
                  "a byte that is not UTF-8 at offset " + str(int64_t(bad)));
    model_.description = spec_.description();
    if (!spec_.has_input())
      return fail({{"input"}}, "", "input", "the input shape input { channels height width }",
                  "none");
    const spec::InputShape &in = spec_.input();
    if (Status s = checkRange(in.channels(), 1, ShapeLimits::kMaxChannels,
                              {{"input"}, {"channels"}}, "input", "channels"); !s) return s;
    if (Status s = checkRange(in.height(), 1, ShapeLimits::kMaxDim, {{"input"}, {"height"}},
                              "input", "height"); !s) return s;
    if (Status s = checkRange(in.width(), 1, ShapeLimits::kMaxDim, {{"input"}, {"width"}},
                              "input", "width"); !s) return s;
    model_.channels = in.channels();
    model_.height = in.height();
    model_.width = in.width();
    // Absent (0): a feature extractor, whose output is its last layer's.
    if (spec_.num_classes() != 0)
      if (Status s = checkRange(spec_.num_classes(), 1, ShapeLimits::kMaxChannels,
                                {{"num_classes"}}, "", "num_classes"); !s) return s;
    model_.numClasses = spec_.num_classes();
    return Status::ok();
  }

  /// One value (square) or two (height, width) per window field.
  Expected<HW> window(const RepeatedField<int32_t> &v, const FieldPath &path,
                      const std::string &ctx, const std::string &name, int64_t lo,
                      std::optional<HW> dflt) const {
    if (v.empty()) {
      if (dflt) return *dflt;
      return fail(path, ctx, name, "1 value (square) or 2 (height, width)", "none");
    }
    if (v.size() > 2)
      return fail(path, ctx, name, "1 value (square) or 2 (height, width)", str(v.size()) + " values");
    for (int i = 0; i < v.size(); ++i) {
      FieldPath p = path;
      p.back().index = i;
      if (v[i] < lo || v[i] > ShapeLimits::kMaxWindow)
        return fail(p, ctx, name, "values in " + str(lo) + ".." + str(ShapeLimits::kMaxWindow),
                    str(int64_t(v[i])));
    }
    return HW{v[0], v[v.size() - 1]};
  }

  struct ConvFields {
    int32_t outChannels;
    const RepeatedField<int32_t> &kernel, &stride, &padding;
  };

  /// The conv-like fields shared by Conv2D and NinBlock.
  Expected<Conv2DAttrs> convAttrs(const ConvFields &f, const FieldPath &op,
                                  const std::string &ctx) const {
    Conv2DAttrs a;
    auto at = [&](const char *field) { FieldPath p = op; p.push_back({field, 0}); return p; };
    if (Status s = checkRange(f.outChannels, 1, ShapeLimits::kMaxChannels, at("out_channels"), ctx,
                              "out_channels"); !s) return s.error();
    a.outChannels = f.outChannels;
    Expected<HW> k = window(f.kernel, at("kernel_size"), ctx, "kernel_size", 1, std::nullopt);
    if (!k) return k.error();
    Expected<HW> st = window(f.stride, at("stride"), ctx, "stride", 1, HW{1, 1});
    if (!st) return st.error();
    Expected<HW> pad = window(f.padding, at("padding"), ctx, "padding", 0, HW{0, 0});
    if (!pad) return pad.error();
    a.kernel = *k;
    a.stride = *st;
    a.padding = *pad;
    return a;
  }

  void addLayer(Layer layer) {
    layer.specIndex = static_cast<int>(model_.specLayers.size());
    model_.layers.push_back(std::move(layer));
  }

  Status layers() {
    if (spec_.layers().empty())
      return fail({{"layers", 0}}, "", "layers", "at least one layer", "none");
    std::set<std::string> names;
    for (int i = 0; i < spec_.layers_size(); ++i) {
      const spec::Layer &l = spec_.layers(i);
      FieldPath path{{"layers", i}};
      std::string ctx = "layers[" + str(i) + "]";
      if (!isIdentifier(l.name(), true))
        return fail(path, ctx, "name",
                    "a layer name of letters, digits, '_' or '-' (not starting with a digit)",
                    l.name().empty() ? "none" : "\"" + l.name() + "\"");
      if (!names.insert(l.name()).second)
        return fail(path, ctx, "name", "a name no other layer has", "\"" + l.name() + "\" again");
      SpecLayer spec{l.name(), opName(l), static_cast<int>(model_.layers.size()), 0};
      ctx += " '" + l.name() + "' (" + spec.op + ")";
      if (Status s = layer(l, path, ctx); !s) return s;
      spec.endLayer = static_cast<int>(model_.layers.size());
      model_.specLayers.push_back(spec);
    }
    return Status::ok();
  }

  static std::string opName(const spec::Layer &l) {
    switch (l.op_case()) {
    case spec::Layer::kConv: return "conv";
    case spec::Layer::kRelu: return "relu";
    case spec::Layer::kMaxPool: return "max_pool";
    case spec::Layer::kAvgPool: return "avg_pool";
    case spec::Layer::kGlobalAvgPool: return "global_avg_pool";
    case spec::Layer::kDropout: return "dropout";
    case spec::Layer::kFlatten: return "flatten";
    case spec::Layer::kNinBlock: return "nin_block";
    case spec::Layer::OP_NOT_SET: break;
    }
    return "no op";
  }

  Status layer(const spec::Layer &l, const FieldPath &path, const std::string &ctx) {
    Layer out;
    out.name = l.name();
    auto opPath = [&](const char *op) { FieldPath p = path; p.push_back({op}); return p; };
    switch (l.op_case()) {
    case spec::Layer::kConv: {
      const spec::Conv2D &c = l.conv();
      Expected<Conv2DAttrs> a =
          convAttrs({c.out_channels(), c.kernel_size(), c.stride(), c.padding()}, opPath("conv"), ctx);
      if (!a) return a.error();
      out.kind = OpKind::Conv2D;
      out.conv = *a;
      out.conv.bias = !c.has_bias() || c.bias();
      if (c.activation() != spec::ACTIVATION_NONE && c.activation() != spec::RELU)
        return fail(opPath("conv"), ctx, "activation", "ACTIVATION_NONE or RELU",
                    str(int64_t(c.activation())));
      out.conv.relu = c.activation() == spec::RELU;
      addLayer(out);
      return Status::ok();
    }
    case spec::Layer::kNinBlock: return ninBlock(l, path, ctx);
    case spec::Layer::kMaxPool:
    case spec::Layer::kAvgPool: {
      bool isMax = l.op_case() == spec::Layer::kMaxPool;
      const spec::Pool2D &p = isMax ? l.max_pool() : l.avg_pool();
      FieldPath op = opPath(isMax ? "max_pool" : "avg_pool");
      auto at = [&](const char *f) { FieldPath q = op; q.push_back({f, 0}); return q; };
      Expected<HW> k = window(p.kernel_size(), at("kernel_size"), ctx, "kernel_size", 1, std::nullopt);
      if (!k) return k.error();
      Expected<HW> st = window(p.stride(), at("stride"), ctx, "stride", 1, *k);
      if (!st) return st.error();
      Expected<HW> pad = window(p.padding(), at("padding"), ctx, "padding", 0, HW{0, 0});
      if (!pad) return pad.error();
      out.kind = isMax ? OpKind::MaxPool2D : OpKind::AvgPool2D;
      out.pool = {*k, *st, *pad};
      addLayer(out);
      return Status::ok();
    }
    case spec::Layer::kDropout: {
      float r = l.dropout().rate();
      if (!(r >= 0.0f && r < 1.0f))
        return fail(opPath("dropout"), ctx, "rate", "a probability in [0, 1)", str(double(r)));
      out.kind = OpKind::Dropout;
      out.dropoutRate = r;
      addLayer(out);
      return Status::ok();
    }
    case spec::Layer::kRelu: out.kind = OpKind::ReLU; break;
    case spec::Layer::kGlobalAvgPool: out.kind = OpKind::GlobalAvgPool; break;
    case spec::Layer::kFlatten: out.kind = OpKind::Flatten; break;
    case spec::Layer::OP_NOT_SET:
      return fail(path, ctx, "op",
                  "one of conv, relu, max_pool, avg_pool, global_avg_pool, dropout, flatten, "
                  "nin_block",
                  "none");
    }
    addLayer(out);
    return Status::ok();
  }

  /// d2l's nin_block: kxk conv + num_1x1 1x1 convs, each with bias and ReLU.
  Status ninBlock(const spec::Layer &l, const FieldPath &path, const std::string &ctx) {
    const spec::NinBlock &b = l.nin_block();
    FieldPath op = path;
    op.push_back({"nin_block"});
    Expected<Conv2DAttrs> a =
        convAttrs({b.out_channels(), b.kernel_size(), b.stride(), b.padding()}, op, ctx);
    if (!a) return a.error();
    int64_t n1x1 = b.has_num_1x1() ? b.num_1x1() : 2;
    FieldPath np = op;
    np.push_back({"num_1x1"});
    if (Status s = checkRange(n1x1, 0, 16, np, ctx, "num_1x1"); !s) return s;
    Layer conv;
    conv.kind = OpKind::Conv2D;
    conv.conv = *a;
    conv.conv.relu = true;
    for (int64_t j = 0; j <= n1x1; ++j) {
      conv.name = l.name() + "." + str(j);
      addLayer(conv);
      conv.conv.kernel = {1, 1};
      conv.conv.stride = {1, 1};
      conv.conv.padding = {0, 0};
    }
    return Status::ok();
  }

  /// Where a shape error points: the input, or the layer inferShapes names
  /// ("layers[i] ..."), or for the model's output the last layer.
  FieldPath shapeErrorPath(const std::string &message) const {
    if (message.rfind("input", 0) == 0)
      return {{"input"}};
    int spec = static_cast<int>(model_.specLayers.size()) - 1;
    if (message.rfind("layers[", 0) == 0)
      spec = std::atoi(message.c_str() + 7);
    return {{"layers", spec}};
  }

  Status training() {
    TrainingConfig &t = model_.training;
    const spec::Training &tr = spec_.training();
    auto at = [](std::initializer_list<const char *> f) {
      FieldPath p{{"training"}};
      for (const char *x : f) p.push_back({x});
      return p;
    };
    const std::string ctx = "training";
    // proto3 enums are open: a binary file can carry numbers the schema lacks.
    if (!spec::Training::Loss_IsValid(tr.loss()))
      return fail(at({"loss"}), ctx, "loss", "SOFTMAX_CROSS_ENTROPY", str(int64_t(tr.loss())));
    if (!spec::Initializer::Kind_IsValid(tr.init().kind()))
      return fail(at({"init", "kind"}), ctx, "init.kind", "XAVIER_UNIFORM",
                  str(int64_t(tr.init().kind())));
    if (tr.sgd().has_learning_rate()) {
      float lr = tr.sgd().learning_rate();
      if (!(std::isfinite(lr) && lr > 0.0f && lr <= 1e4f))
        return fail(at({"sgd", "learning_rate"}), ctx, "sgd.learning_rate",
                    "a finite value in (0, 1e4]", str(double(lr)));
      t.learningRate = lr;
    }
    float m = tr.sgd().momentum();
    if (!(m >= 0.0f && m < 1.0f))
      return fail(at({"sgd", "momentum"}), ctx, "sgd.momentum", "a value in [0, 1)", str(double(m)));
    t.momentum = m;
    float wd = tr.sgd().weight_decay();
    if (!(std::isfinite(wd) && wd >= 0.0f && wd < 1.0f))
      return fail(at({"sgd", "weight_decay"}), ctx, "sgd.weight_decay", "a value in [0, 1)",
                  str(double(wd)));
    t.weightDecay = wd;
    if (tr.batch_size() != 0) {
      if (Status s = checkRange(tr.batch_size(), 1, 65536, at({"batch_size"}), ctx, "batch_size"); !s)
        return s;
      t.batchSize = tr.batch_size();
    }
    if (tr.epochs() != 0) {
      if (Status s = checkRange(tr.epochs(), 1, 100000, at({"epochs"}), ctx, "epochs"); !s)
        return s;
      t.epochs = tr.epochs();
    }
    if (tr.init().has_magnitude()) {
      float mag = tr.init().magnitude();
      if (!(std::isfinite(mag) && mag > 0.0f && mag <= 1e4f))
        return fail(at({"init", "magnitude"}), ctx, "init.magnitude", "a finite value in (0, 1e4]",
                    str(double(mag)));
      t.xavierMagnitude = mag;
    }
    t.seed = tr.seed();
    const std::string &ds = tr.data().dataset();
    if (!ds.empty() && ds != "fashion-mnist")
      return fail(at({"data", "dataset"}), ctx, "data.dataset", "\"fashion-mnist\"",
                  "\"" + ds + "\"");
    int32_t resize = tr.data().resize();
    if (resize != 0 && (resize != model_.height || resize != model_.width))
      return fail(at({"data", "resize"}), ctx, "data.resize",
                  "the input size " + str(model_.height) + "x" + str(model_.width) +
                      " (images are resized to the input)",
                  str(int64_t(resize)));
    return Status::ok();
  }

  Status params() {
    int64_t total = 0;
    for (const ParamInfo &p : parameterList(model_))
      total += p.numel();
    if (total > ShapeLimits::kMaxParams)
      return fail({{"layers"}}, "", "layers", "at most 2^31 parameters in all", str(total));
    return Status::ok();
  }

  /// All parameters or none; each once, with its exact shape, finite data.
  Status weights() {
    if (spec_.weights().empty())
      return Status::ok();
    std::vector<ParamInfo> params = parameterList(model_);
    std::map<std::string, int> byName;
    for (int i = 0; i < spec_.weights_size(); ++i) {
      const spec::Tensor &w = spec_.weights(i);
      FieldPath path{{"weights", i}};
      std::string ctx = "weights[" + str(i) + "] '" + w.name() + "'";
      if (!byName.emplace(w.name(), i).second)
        return fail(path, ctx, "name", "each parameter once", "\"" + w.name() + "\" again");
    }
    for (const ParamInfo &p : params) {
      auto it = byName.find(p.name);
      if (it == byName.end())
        return fail({{"weights", 0}}, "weights", "name",
                    "every parameter of the model (all or none), e.g. \"" + p.name + "\"",
                    "no tensor named \"" + p.name + "\"");
      int i = it->second;
      byName.erase(it);
      const spec::Tensor &w = spec_.weights(i);
      FieldPath path{{"weights", i}};
      std::string ctx = "weights[" + str(i) + "] '" + w.name() + "'";
      Shape shape(w.shape().begin(), w.shape().end());
      if (shape != p.shape)
        return fail(path, ctx, "shape", formatShape(p.shape), formatShape(shape));
      if (w.data_size() != p.numel())
        return fail(path, ctx, "data", str(p.numel()) + " values", str(int64_t(w.data_size())));
      for (int j = 0; j < w.data_size(); ++j)
        if (!std::isfinite(w.data(j)))
          return fail(path, ctx, "data[" + str(j) + "]", "a finite value", str(double(w.data(j))));
      model_.weights.push_back(TensorData{p.name, shape, {w.data().begin(), w.data().end()}});
    }
    if (!byName.empty()) {
      auto [name, i] = *byName.begin();
      return fail({{"weights", i}}, "weights[" + str(i) + "] '" + name + "'", "name",
                  params.empty() ? std::string("no weights (the model has no parameters)")
                                 : "the name of a parameter of the model (e.g. \"" +
                                       params.front().name + "\")",
                  "\"" + name + "\"");
    }
    return Status::ok();
  }

  const SpecFile &file_;
  const spec::Model &spec_;
  Model model_;
};

} // namespace

Expected<Model> validateSpec(const SpecFile &file) { return Validator(file).run(); }

} // namespace ninc
