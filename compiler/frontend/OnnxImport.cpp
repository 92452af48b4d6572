//===- compiler/frontend/OnnxImport.cpp - ONNX models of the NiN family ----===//
//
// Reads an ONNX model (Debian's libonnx-dev: onnx.proto and the C++
// checker) and writes it as the ninc.spec.Model it is, weights included, so
// that validation, `convert`, `inspect`, `run`, `check` and `compile` treat
// it as any other model file. The graph must be a chain from one float input
// [N, C, H, W] (N may be symbolic) to one output [N, classes]; docs/onnx.md
// has the table of ops and what becomes of them. Anything the schema cannot
// express (asymmetric pads, dilations, groups, ceil_mode, count_include_pad
// = 0 with padding, SAME_* auto_pad that pads unevenly, a branch, an unknown
// op, external data) is refused with a message that names the file, the
// node, its op type and what ninc supports.
//
//===----------------------------------------------------------------------===//

#include "compiler/frontend/OnnxInternal.h"
#include "compiler/frontend/SpecFile.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <map>
#include <set>

namespace ninc {
namespace {

/// Opsets ninc reads. The ops it imports kept their meaning across them
/// where it accepts their attributes: later opsets added attributes it
/// checks (ceil_mode, dilations, count_include_pad), earlier ones defaults
/// it matches; the one exception, Dropout before opset 7 (it drops unless
/// is_test), is refused.
constexpr int64_t kMinOpset = 1, kMaxOpset = 21;

const char *const kSupported =
    "ninc reads Conv, Relu, MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape or "
    "Squeeze to [N, C], Dropout, Identity and a zero Pad before a Conv or AveragePool";

class OnnxImporter {
public:
  OnnxImporter(const std::string &path, const onnx::ModelProto &model, spec::Model &out)
      : path_(path), model_(model), out_(out) {}

  Status run() {
    if (Status s = checkOpset(); !s)
      return s;
    const onnx::GraphProto &g = model_.graph();
    for (const onnx::TensorProto &t : g.initializer())
      if (Status s = addConstant(t, "initializer"); !s)
        return s;
    for (const onnx::NodeProto &n : g.node())
      if (n.op_type() == "Constant")
        if (Status s = addConstantNode(n); !s)
          return s;
    if (Status s = runChecker(); !s)
      return s;
    if (Status s = readInput(); !s)
      return s;
    if (Status s = walk(); !s)
      return s;
    return readOutput();
  }

private:
  /// The tensor flowing between layers: its name and shape (C, H, W while
  /// 4-D; `flat` after flattening to [N, C]).
  struct Flow {
    std::string name;
    int64_t c = 0, h = 0, w = 0;
    bool flat = false;
    int64_t rank = 4; ///< 3 between two single-axis Squeezes of [N, C, 1, 1].
  };

  Error fail(const std::string &what) const { return Error{path_ + ": error: " + what}; }
  Error failAt(const onnx::NodeProto &n, const std::string &what) const {
    if (!n.name().empty())
      return fail("node '" + n.name() + "' (" + n.op_type() + "): " + what);
    int index = 0; // unnamed: its position in the graph
    while (index < model_.graph().node_size() && &model_.graph().node(index) != &n)
      ++index;
    return fail("node " + std::to_string(index) + " (" + n.op_type() + ", unnamed): " + what);
  }

  Status checkOpset() {
    int64_t opset = -1;
    for (const onnx::OperatorSetIdProto &o : model_.opset_import())
      if (o.domain().empty() || o.domain() == "ai.onnx")
        opset = o.version();
    if (opset < 0)
      return fail("the model imports no opset of the default ONNX domain");
    if (opset < kMinOpset || opset > kMaxOpset)
      return fail("opset " + std::to_string(opset) + ": ninc reads opsets " +
                  std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset) +
                  " (convert it with onnx.version_converter)");
    opset_ = opset;
    return Status::ok();
  }

  /// Debian's ONNX 1.12 checks opsets up to its own last one (17); newer
  /// models get ninc's own checks only. Its message becomes one line.
  Status runChecker() {
    const auto &versions = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
    auto known = versions.find("");
    if (known != versions.end() && opset_ <= known->second.second) {
      try {
        onnx::checker::check_model(model_);
      } catch (const std::exception &e) {
        std::string what;
        for (char c : std::string(e.what()))
          if (c != '\n' || (!what.empty() && what.back() != ' '))
            what += c == '\n' ? ' ' : c;
        while (!what.empty() && what.back() == ' ')
          what.pop_back();
        if (what.size() > 400)
          what = what.substr(0, 400) + "...";
        return fail("the ONNX checker refuses the model: " + what);
      }
    }
    return Status::ok();
  }

  Status addConstant(const onnx::TensorProto &t, const char *what) {
    Expected<OnnxConstant> c = readOnnxConstant(t, std::string(what) + " '" + t.name() + "'");
    if (!c)
      return fail(c.message());
    constants_[t.name()] = std::move(*c);
    return Status::ok();
  }

  Status addConstantNode(const onnx::NodeProto &n) {
    for (const onnx::AttributeProto &a : n.attribute())
      if (a.name() == "value" && a.has_t()) {
        onnx::TensorProto t = a.t();
        if (n.output_size() != 1)
          return failAt(n, "expected one output");
        t.set_name(n.output(0));
        return addConstant(t, "Constant");
      }
    return failAt(n, "expected a 'value' tensor attribute (other Constant forms are not "
                     "supported)");
  }

  Status readInput() {
    const onnx::GraphProto &g = model_.graph();
    const onnx::ValueInfoProto *input = nullptr;
    for (const onnx::ValueInfoProto &v : g.input()) {
      if (constants_.count(v.name()))
        continue; // initializers listed as inputs (IR version < 4)
      if (input)
        return fail("graph inputs '" + input->name() + "' and '" + v.name() +
                    "': ninc models have one input, the images");
      input = &v;
    }
    if (!input)
      return fail("the graph has no input (every input is an initializer)");
    const onnx::TypeProto &type = input->type();
    if (!type.has_tensor_type() || type.tensor_type().elem_type() != onnx::TensorProto::FLOAT)
      return fail("graph input '" + input->name() + "': expected a float32 tensor");
    const onnx::TensorShapeProto &shape = type.tensor_type().shape();
    if (shape.dim_size() != 4)
      return fail("graph input '" + input->name() + "': expected 4 dimensions [N, C, H, W], "
                  "found " + std::to_string(shape.dim_size()));
    int64_t chw[3];
    for (int i = 1; i < 4; ++i) {
      const onnx::TensorShapeProto::Dimension &d = shape.dim(i);
      if (!d.has_dim_value() || d.dim_value() < 1 || d.dim_value() > 65536)
        return fail("graph input '" + input->name() + "': expected fixed C, H and W in 1..65536, "
                    "found dimension " + std::to_string(i) + " = " +
                    (d.has_dim_value() ? std::to_string(d.dim_value()) : "'" + d.dim_param() + "'"));
      chw[i - 1] = d.dim_value();
    }
    flow_ = {input->name(), chw[0], chw[1], chw[2], false, 4};
    spec::InputShape *in = out_.mutable_input();
    in->set_channels(int32_t(chw[0]));
    in->set_height(int32_t(chw[1]));
    in->set_width(int32_t(chw[2]));
    std::string stem = path_.substr(path_.find_last_of('/') + 1);
    stem = stem.substr(0, stem.rfind('.'));
    out_.set_name(onnxIdentifier(model_.graph().name().empty() ? stem : model_.graph().name(),
                             onnxIdentifier(stem, "onnx_model")));
    out_.set_description("imported from " + stem + ".onnx (producer " +
                         model_.producer_name() + " " + model_.producer_version() + ", opset " +
                         std::to_string(opset_) + ")");
    return Status::ok();
  }

  /// The nodes from the input to the output, one after another.
  Status walk() {
    const onnx::GraphProto &g = model_.graph();
    std::map<std::string, std::vector<const onnx::NodeProto *>> readers;
    std::vector<const onnx::NodeProto *> layers;
    for (const onnx::NodeProto &n : g.node()) {
      if (n.op_type() == "Constant")
        continue;
      if (!n.domain().empty() && n.domain() != "ai.onnx")
        return failAt(n, "an op of domain '" + n.domain() + "'; " + kSupported);
      if (n.input_size() == 0 || n.input(0).empty())
        return failAt(n, "expected a data input");
      readers[n.input(0)].push_back(&n);
      for (int i = 1; i < n.input_size(); ++i)
        if (!n.input(i).empty() && !constants_.count(n.input(i)))
          return failAt(n, "input " + std::to_string(i) + " '" + n.input(i) +
                               "' is computed in the graph (or missing); ninc needs it to be an "
                               "initializer or Constant: " + kSupported + ", one after another");
      layers.push_back(&n);
    }
    std::set<const onnx::NodeProto *> done;
    while (true) {
      auto it = readers.find(flow_.name);
      if (it == readers.end())
        break;
      if (it->second.size() > 1)
        return fail("the graph branches at tensor '" + flow_.name + "': nodes '" +
                    it->second[0]->name() + "' (" + it->second[0]->op_type() + ") and '" +
                    it->second[1]->name() + "' (" + it->second[1]->op_type() +
                    ") both read it; ninc models are a chain of layers");
      const onnx::NodeProto &n = *it->second[0];
      if (!done.insert(&n).second)
        return failAt(n, "the graph has a cycle through this node");
      if (Status s = convert(n, readers); !s)
        return s;
    }
    for (const onnx::NodeProto *n : layers)
      if (!done.count(n) && !skip_.count(n))
        return failAt(*n, "does not lie on the chain from the graph input '" +
                              model_.graph().input(0).name() + "' to its output (unused or a "
                              "second branch)");
    return Status::ok();
  }

  /// A fresh layer named after the node.
  spec::Layer *addLayer(const onnx::NodeProto &n) {
    std::string name = onnxIdentifier(n.name(), onnxLower(n.op_type()));
    if (names_.count(name))
      name = onnxIdentifier(name + "_" + std::to_string(out_.layers_size()), name);
    names_.insert(name);
    spec::Layer *l = out_.add_layers();
    l->set_name(name);
    return l;
  }

  /// Kernel, strides and symmetric pads of a Conv or pooling node; `what`
  /// names the op in messages.
  Status window(const onnx::NodeProto &n, std::vector<int64_t> kernel, int64_t defaultStride,
                std::vector<int64_t> &stride, std::vector<int64_t> &pad) {
    if (kernel.size() != 2 || kernel[0] < 1 || kernel[1] < 1)
      return failAt(n, "expected a 2-D kernel_shape, found " + std::to_string(kernel.size()) +
                           " dimensions");
    stride = intsAttr(n, "strides");
    if (stride.empty())
      stride = {defaultStride < 0 ? kernel[0] : defaultStride,
                defaultStride < 0 ? kernel[1] : defaultStride};
    if (stride.size() != 2 || stride[0] < 1 || stride[1] < 1)
      return failAt(n, "expected 2 positive strides");
    for (int64_t d : intsAttr(n, "dilations"))
      if (d != 1)
        return failAt(n, "attribute 'dilations' = " + std::to_string(d) +
                             ": ninc supports dilation 1 only");
    std::vector<int64_t> pads = intsAttr(n, "pads");
    const std::string autoPad = stringAttr(n, "auto_pad");
    if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      // Output = ceil(in / stride): the total padding must split evenly.
      pads.assign(4, 0);
      const int64_t in[2] = {flow_.h, flow_.w};
      for (int i = 0; i < 2; ++i) {
        int64_t outSize = (in[i] + stride[i] - 1) / stride[i];
        int64_t total = std::max<int64_t>(0, (outSize - 1) * stride[i] + kernel[i] - in[i]);
        if (total % 2)
          return failAt(n, "attribute 'auto_pad' = " + autoPad + " pads " +
                               std::to_string(total) + " along " + (i ? "W" : "H") +
                               ", unevenly; ninc pads both sides equally (export with "
                               "explicit symmetric pads)");
        pads[i] = pads[i + 2] = total / 2;
      }
    } else if (!autoPad.empty() && autoPad != "NOTSET" && autoPad != "VALID") {
      return failAt(n, "attribute 'auto_pad' = '" + autoPad + "' is not an ONNX value");
    } else if (autoPad == "VALID") {
      pads.assign(4, 0);
    }
    if (pads.empty())
      pads.assign(4, 0);
    if (pads.size() != 4)
      return failAt(n, "expected 4 pads [top, left, bottom, right], found " +
                           std::to_string(pads.size()));
    if (pads[0] != pads[2] || pads[1] != pads[3])
      return failAt(n, "attribute 'pads' = [" + std::to_string(pads[0]) + ", " +
                           std::to_string(pads[1]) + ", " + std::to_string(pads[2]) + ", " +
                           std::to_string(pads[3]) +
                           "] is asymmetric; ninc's schema pads both sides equally");
    for (int64_t p : pads)
      if (p < 0)
        return failAt(n, "expected pads >= 0");
    pad = {pads[0], pads[1]};
    return Status::ok();
  }

  Status checkSpatialInput(const onnx::NodeProto &n) const {
    if (flow_.flat || flow_.rank != 4)
      return failAt(n, "expected a 4-D [N, C, H, W] input, found a squeezed or flattened one");
    return Status::ok();
  }

  /// Converts node `n`; moves flow_ to its output.
  Status convert(const onnx::NodeProto &n,
                 const std::map<std::string, std::vector<const onnx::NodeProto *>> &readers) {
    const std::string &op = n.op_type();
    if (n.output_size() < 1 || n.output(0).empty())
      return failAt(n, "expected an output");
    for (int i = 1; i < n.output_size(); ++i)
      if (!n.output(i).empty() && readers.count(n.output(i)))
        return failAt(n, "output " + std::to_string(i) + " '" + n.output(i) +
                             "' is used; ninc supports only the first output");
    std::string next = n.output(0);
    if ((pending_[0] || pending_[1]) && op != "Conv" && op != "AveragePool" && op != "MaxPool")
      return failAt(n, "follows a Pad; ninc folds a zero Pad only into the Conv or AveragePool "
                       "right after it");
    if (op == "Conv") {
      if (Status s = checkSpatialInput(n); !s)
        return s;
      if (n.input_size() < 2)
        return failAt(n, "expected inputs X, W and optionally B");
      const OnnxConstant &w = constants_.at(n.input(1));
      if (w.dims.size() != 4 || w.floats.empty())
        return failAt(n, "weight '" + n.input(1) + "': expected a float32 [O, C, kH, kW] "
                         "initializer");
      if (intAttr(n, "group", 1) != 1)
        return failAt(n, "attribute 'group' = " + std::to_string(intAttr(n, "group", 1)) +
                             ": ninc supports group 1 only");
      if (w.dims[1] != flow_.c)
        return failAt(n, "weight '" + n.input(1) + "' has shape [" + joinDims(w.dims) +
                             "]: expected " + std::to_string(flow_.c) +
                             " input channels, the channels of '" + flow_.name + "'");
      std::vector<int64_t> kernel = intsAttr(n, "kernel_shape");
      if (kernel.empty())
        kernel = {w.dims[2], w.dims[3]};
      if (kernel.size() != 2 || kernel[0] != w.dims[2] || kernel[1] != w.dims[3])
        return failAt(n, "kernel_shape disagrees with the weight's shape [" + joinDims(w.dims) + "]");
      std::vector<int64_t> stride, pad;
      if (Status s = window(n, kernel, 1, stride, pad); !s)
        return s;
      takePendingPad(pad);
      const OnnxConstant *b = nullptr;
      if (n.input_size() > 2 && !n.input(2).empty()) {
        b = &constants_.at(n.input(2));
        if (b->dims != std::vector<int64_t>{w.dims[0]} || b->floats.empty())
          return failAt(n, "bias '" + n.input(2) + "': expected a float32 [" +
                               std::to_string(w.dims[0]) + "] initializer, found [" +
                               joinDims(b->dims) + "]");
      }
      spec::Layer *l = addLayer(n);
      spec::Conv2D *c = l->mutable_conv();
      c->set_out_channels(int32_t(w.dims[0]));
      c->add_kernel_size(int32_t(kernel[0]));
      c->add_kernel_size(int32_t(kernel[1]));
      c->add_stride(int32_t(stride[0]));
      c->add_stride(int32_t(stride[1]));
      c->add_padding(int32_t(pad[0]));
      c->add_padding(int32_t(pad[1]));
      c->set_bias(b != nullptr);
      addWeight(l->name() + ".weight", w.dims, w.floats);
      if (b)
        addWeight(l->name() + ".bias", b->dims, b->floats);
      flow_.c = w.dims[0];
      flow_.h = windowOut(flow_.h, kernel[0], stride[0], pad[0]);
      flow_.w = windowOut(flow_.w, kernel[1], stride[1], pad[1]);
      // A Relu that alone reads the conv's output is its fused activation.
      auto r = readers.find(next);
      if (r != readers.end() && r->second.size() == 1 && r->second[0]->op_type() == "Relu") {
        c->set_activation(spec::RELU);
        skip_.insert(r->second[0]);
        next = r->second[0]->output(0);
      }
    } else if (op == "Relu") {
      addLayer(n)->mutable_relu();
    } else if (op == "MaxPool" || op == "AveragePool") {
      if (Status s = checkSpatialInput(n); !s)
        return s;
      if (intAttr(n, "ceil_mode", 0) != 0)
        return failAt(n, "attribute 'ceil_mode' = 1: ninc's pooling rounds the output size down "
                         "(ceil_mode 0)");
      if (intAttr(n, "storage_order", 0) != 0)
        return failAt(n, "attribute 'storage_order' = 1 is not supported");
      std::vector<int64_t> stride, pad;
      if (Status s = window(n, intsAttr(n, "kernel_shape"), 1, stride, pad); !s)
        return s;
      const std::vector<int64_t> kernel = intsAttr(n, "kernel_shape");
      const bool zeroPadded = pending_[0] || pending_[1]; // counted, as count_include_pad 1
      if (zeroPadded && op == "MaxPool")
        return failAt(n, "follows a zero Pad; ninc's max_pool pads with -inf");
      takePendingPad(pad);
      if (op == "AveragePool" && !zeroPadded && (pad[0] || pad[1]) &&
          intAttr(n, "count_include_pad", 0) == 0)
        return failAt(n, "attribute 'count_include_pad' = 0 with padding: ninc's avg_pool "
                         "divides by the whole window, padding included (count_include_pad = 1)");
      spec::Layer *l = addLayer(n);
      spec::Pool2D *p = op == "MaxPool" ? l->mutable_max_pool() : l->mutable_avg_pool();
      for (int i = 0; i < 2; ++i) {
        p->add_kernel_size(int32_t(kernel[i]));
        p->add_stride(int32_t(stride[i]));
        p->add_padding(int32_t(pad[i]));
      }
      flow_.h = windowOut(flow_.h, kernel[0], stride[0], pad[0]);
      flow_.w = windowOut(flow_.w, kernel[1], stride[1], pad[1]);
    } else if (op == "GlobalAveragePool") {
      if (Status s = checkSpatialInput(n); !s)
        return s;
      addLayer(n)->mutable_global_avg_pool();
      flow_.h = flow_.w = 1;
    } else if (op == "Flatten" || op == "Reshape" || op == "Squeeze") {
      if (Status s = flatten(n); !s)
        return s;
    } else if (op == "Dropout") {
      float ratio = 0.5f;
      for (const onnx::AttributeProto &a : n.attribute())
        if (a.name() == "ratio")
          ratio = a.f();
      if (n.input_size() > 1 && !n.input(1).empty()) {
        const OnnxConstant &r = constants_.at(n.input(1));
        if (r.floats.size() != 1)
          return failAt(n, "expected a scalar float ratio");
        ratio = r.floats[0];
      }
      if (!(ratio >= 0 && ratio < 1))
        return failAt(n, "expected a ratio in [0, 1), found " + std::to_string(ratio));
      if (opset_ < 7 && intAttr(n, "is_test", 0) == 0)
        return failAt(n, "attribute 'is_test' = 0 (opset " + std::to_string(opset_) +
                             " Dropout drops when inferring); ninc runs it as the identity");
      if (n.input_size() > 2 && !n.input(2).empty()) {
        const OnnxConstant &mode = constants_.at(n.input(2));
        if (mode.ints.size() != 1 || mode.ints[0] != 0)
          return failAt(n, "input 'training_mode' = true: ninc runs Dropout as the identity "
                           "when inferring, and draws its own masks when training");
      }
      addLayer(n)->mutable_dropout()->set_rate(ratio);
    } else if (op == "Pad") {
      if (Status s = readPad(n); !s)
        return s;
    } else if (op == "Identity") {
      // nothing
    } else {
      return failAt(n, "ninc does not support this op; " + std::string(kSupported));
    }
    flow_.name = next;
    return Status::ok();
  }

  /// A constant zero Pad of H and W, symmetric (PyTorch's export of
  /// AvgPool2d(padding=p) with count_include_pad): kept for the next Conv or
  /// AveragePool, whose padding it becomes.
  Status readPad(const onnx::NodeProto &n) {
    if (Status s = checkSpatialInput(n); !s)
      return s;
    const std::string mode = stringAttr(n, "mode");
    if (!mode.empty() && mode != "constant")
      return failAt(n, "attribute 'mode' = '" + mode + "': ninc folds only constant zero pads");
    std::vector<int64_t> pads = intsAttr(n, "pads");
    if (n.input_size() > 1 && !n.input(1).empty())
      pads = constants_.at(n.input(1)).ints;
    if (n.input_size() > 2 && !n.input(2).empty()) {
      const OnnxConstant &v = constants_.at(n.input(2));
      if (v.floats.size() != 1 || v.floats[0] != 0.0f)
        return failAt(n, "expected the constant value 0");
    }
    if (n.input_size() > 3 && !n.input(3).empty())
      return failAt(n, "the 'axes' input is not supported");
    if (pads.size() != 8 || pads[0] || pads[1] || pads[4] || pads[5] || pads[2] != pads[6] ||
        pads[3] != pads[7] || pads[2] < 0 || pads[3] < 0)
      return failAt(n, "pads [" + joinDims(pads) + "]: ninc folds only symmetric padding of H "
                       "and W ([0, 0, h, w, 0, 0, h, w])");
    pending_[0] += pads[2];
    pending_[1] += pads[3];
    return Status::ok();
  }

  /// Adds a preceding Pad to a window's padding.
  void takePendingPad(std::vector<int64_t> &pad) {
    pad[0] += pending_[0];
    pad[1] += pending_[1];
    pending_[0] = pending_[1] = 0;
  }

  /// Flatten (axis 1) of any [N, C, H, W]; Reshape to [N, C*H*W] and Squeeze
  /// of [N, C, 1, 1] to [N, C].
  Status flatten(const onnx::NodeProto &n) {
    const std::string &op = n.op_type();
    if (flow_.flat)
      return failAt(n, "the input is already [N, " + std::to_string(flow_.c) + "]");
    if (flow_.rank != 4 && op != "Squeeze")
      return failAt(n, "expected a 4-D input after a Squeeze of one axis");
    const int64_t features = flow_.c * flow_.h * flow_.w;
    if (op == "Flatten") {
      if (intAttr(n, "axis", 1) != 1)
        return failAt(n, "attribute 'axis' = " + std::to_string(intAttr(n, "axis", 1)) +
                             ": ninc flattens to [N, C*H*W] (axis 1) only");
    } else if (op == "Reshape") {
      if (n.input_size() < 2)
        return failAt(n, "expected a shape input");
      const OnnxConstant &shape = constants_.at(n.input(1));
      const std::vector<int64_t> &s = shape.ints;
      bool ok = s.size() == 2 && (s[0] == -1 || s[0] == 0 || s[0] > 0) &&
                (s[1] == features || (s[1] == -1 && s[0] != -1));
      if (!ok)
        return failAt(n, "reshapes to [" + joinDims(s) + "]; ninc supports only [N, " +
                             std::to_string(features) + "] (a flatten) here");
    } else { // Squeeze: [N, C, 1, 1] -> [N, C], at once or one axis at a time
      std::vector<int64_t> axes = intsAttr(n, "axes");
      if (n.input_size() > 1 && !n.input(1).empty())
        axes = constants_.at(n.input(1)).ints;
      for (int64_t &a : axes)
        if (a < 0)
          a += flow_.rank;
      std::sort(axes.begin(), axes.end());
      std::vector<int64_t> ones;
      for (int64_t a = 2; a < flow_.rank; ++a)
        ones.push_back(a);
      bool ok = flow_.h == 1 && flow_.w == 1 && !axes.empty() &&
                std::includes(ones.begin(), ones.end(), axes.begin(), axes.end());
      if (!ok && !(axes.empty() && flow_.h == 1 && flow_.w == 1))
        return failAt(n, "squeezes [N, " + std::to_string(flow_.c) + ", " +
                             std::to_string(flow_.h) + ", " + std::to_string(flow_.w) +
                             "] on axes [" + joinDims(axes) + "]; ninc supports only [N, C, 1, 1] "
                             "-> [N, C] (axes 2 and 3)");
      if (!axes.empty() && int64_t(axes.size()) < flow_.rank - 2) {
        flow_.rank -= int64_t(axes.size()); // [N, C, 1]: the next Squeeze flattens
        return Status::ok();
      }
    }
    addLayer(n)->mutable_flatten();
    flow_.c = features;
    flow_.h = flow_.w = 1;
    flow_.flat = true;
    return Status::ok();
  }

  Status readOutput() {
    const onnx::GraphProto &g = model_.graph();
    if (g.output_size() != 1)
      return fail("the graph has " + std::to_string(g.output_size()) +
                  " outputs; ninc models have one, the logits");
    if (g.output(0).name() != flow_.name)
      return fail("graph output '" + g.output(0).name() + "' is not the end of the chain of "
                  "layers from the input ('" + flow_.name + "')");
    // [N, K]: a classifier's logits; [N, C, H, W]: a feature extractor
    // (no num_classes: it infers, it does not train).
    if (flow_.rank != 4 && !flow_.flat)
      return fail("graph output '" + flow_.name + "' is [N, C, 1] (one axis squeezed); ninc "
                  "models end in [N, C] or [N, C, H, W]");
    if (flow_.flat)
      out_.set_num_classes(int32_t(flow_.c));
    return Status::ok();
  }

  void addWeight(const std::string &name, const std::vector<int64_t> &shape,
                 const std::vector<float> &data) {
    spec::Tensor *t = out_.add_weights();
    t->set_name(name);
    t->mutable_shape()->Add(shape.begin(), shape.end());
    t->mutable_data()->Add(data.begin(), data.end());
  }

  const std::string &path_;
  const onnx::ModelProto &model_;
  spec::Model &out_;
  int64_t opset_ = 0;
  std::map<std::string, OnnxConstant> constants_;
  std::set<std::string> names_;
  std::set<const onnx::NodeProto *> skip_;
  Flow flow_;
  int64_t pending_[2] = {0, 0}; ///< A Pad's H and W padding, for the next window.
};

} // namespace

Expected<std::unique_ptr<SpecFile>> readOnnxFile(const std::string &path,
                                                 const std::string &bytes) {
  onnx::ModelProto model;
  if (bytes.size() > size_t(std::numeric_limits<int>::max()) || !model.ParseFromString(bytes))
    return Error{path + ": error: expected an ONNX model (onnx.ModelProto), found bytes "
                 "protobuf cannot parse"};
  if (!model.has_graph())
    return Error{path + ": error: the ONNX model has no graph"};
  auto file = std::make_unique<SpecFile>();
  file->path = path;
  file->format = SpecFormat::Onnx;
  OnnxImporter importer(path, model, file->message);
  if (Status s = importer.run(); !s)
    return s.error();
  return file;
}

} // namespace ninc
