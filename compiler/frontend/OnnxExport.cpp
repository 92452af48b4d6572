//===- compiler/frontend/OnnxExport.cpp - A ninc model as an ONNX graph ----===//
//
// `ninc export MODEL -o model.onnx` (and `ninc convert MODEL model.onnx`):
// the expanded layers as ONNX opset 13 nodes with the weights as
// initializers (raw little-endian float32), input "input" [N, C, H, W] with a
// symbolic batch N, output "logits" [N, classes]:
//
//   conv (fused ReLU)  -> Conv, Relu        max_pool / avg_pool -> MaxPool /
//   relu               -> Relu              AveragePool (count_include_pad 1,
//   global_avg_pool    -> GlobalAveragePool  ninc's division by the window)
//   dropout            -> Dropout (ratio)   flatten -> Flatten (axis 1)
//
// The result passes onnx.checker and is what OnnxImport.cpp reads back.
//
//===----------------------------------------------------------------------===//

#include "compiler/frontend/SpecFile.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include "compiler/model/Shapes.h"

#include <cstring>
#include <map>

namespace ninc {
namespace {

constexpr int64_t kExportOpset = 13;

onnx::AttributeProto *intsAttr(onnx::NodeProto *n, const char *name,
                               std::initializer_list<int64_t> values) {
  onnx::AttributeProto *a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values)
    a->add_ints(v);
  return a;
}

void intAttr(onnx::NodeProto *n, const char *name, int64_t value) {
  onnx::AttributeProto *a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void floatInitializer(onnx::GraphProto *g, const std::string &name,
                      const std::vector<int64_t> &shape, const float *data, size_t count) {
  onnx::TensorProto *t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : shape)
    t->add_dims(d);
  t->set_raw_data(std::string(reinterpret_cast<const char *>(data), count * sizeof(float)));
}

void tensorType(onnx::ValueInfoProto *v, const std::string &name,
                const std::vector<int64_t> &dims) {
  v->set_name(name);
  onnx::TypeProto_Tensor *t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  bool first = true;
  for (int64_t d : dims) {
    onnx::TensorShapeProto_Dimension *dim = t->mutable_shape()->add_dim();
    if (first)
      dim->set_dim_param("N");
    else
      dim->set_dim_value(d);
    first = false;
  }
}

} // namespace

Status exportOnnx(const Model &model, const std::string &path) {
  if (model.weights.empty())
    return Error{path + ": error: model '" + model.name + "' has no weights to export"};
  onnx::ModelProto m;
  m.set_ir_version(7); // ONNX 1.8+, what opset 13 needs
  m.set_producer_name("ninc");
  m.set_producer_version("1");
  m.set_doc_string(model.description);
  onnx::OperatorSetIdProto *opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(kExportOpset);
  onnx::GraphProto *g = m.mutable_graph();
  g->set_name(model.name);
  tensorType(g->add_input(), "input", {0, model.channels, model.height, model.width});

  std::map<std::string, const TensorData *> weights;
  for (const TensorData &t : model.weights)
    weights[t.name] = &t;
  std::string flow = "input";
  auto node = [&](const std::string &op, const std::string &name) {
    onnx::NodeProto *n = g->add_node();
    n->set_op_type(op);
    n->set_name(name);
    n->add_input(flow);
    flow = name + ":out";
    n->add_output(flow);
    return n;
  };
  for (const Layer &l : model.layers) {
    switch (l.kind) {
    case OpKind::Conv2D: {
      onnx::NodeProto *n = node("Conv", l.name);
      for (const char *suffix : {".weight", ".bias"}) {
        if (std::strcmp(suffix, ".bias") == 0 && !l.conv.bias)
          break;
        auto it = weights.find(l.name + suffix);
        if (it == weights.end())
          return Error{path + ": error: layer '" + l.name + "' has no tensor '" + l.name +
                       suffix + "'"};
        floatInitializer(g, it->first, it->second->shape, it->second->data.data(),
                         it->second->data.size());
        n->add_input(it->first);
      }
      intsAttr(n, "kernel_shape", {l.conv.kernel.h, l.conv.kernel.w});
      intsAttr(n, "strides", {l.conv.stride.h, l.conv.stride.w});
      intsAttr(n, "pads", {l.conv.padding.h, l.conv.padding.w, l.conv.padding.h,
                           l.conv.padding.w});
      if (l.conv.relu)
        node("Relu", l.name + ".relu");
      break;
    }
    case OpKind::ReLU:
      node("Relu", l.name);
      break;
    case OpKind::MaxPool2D:
    case OpKind::AvgPool2D: {
      onnx::NodeProto *n = node(l.kind == OpKind::MaxPool2D ? "MaxPool" : "AveragePool", l.name);
      intsAttr(n, "kernel_shape", {l.pool.kernel.h, l.pool.kernel.w});
      intsAttr(n, "strides", {l.pool.stride.h, l.pool.stride.w});
      intsAttr(n, "pads", {l.pool.padding.h, l.pool.padding.w, l.pool.padding.h,
                           l.pool.padding.w});
      if (l.kind == OpKind::AvgPool2D)
        intAttr(n, "count_include_pad", 1);
      break;
    }
    case OpKind::GlobalAvgPool:
      node("GlobalAveragePool", l.name);
      break;
    case OpKind::Dropout: {
      onnx::NodeProto *n = node("Dropout", l.name);
      floatInitializer(g, l.name + ".ratio", {}, &l.dropoutRate, 1);
      n->add_input(l.name + ".ratio");
      break;
    }
    case OpKind::Flatten:
      intAttr(node("Flatten", l.name), "axis", 1);
      break;
    }
  }
  // The last node's output is the graph's "logits".
  g->mutable_node(g->node_size() - 1)->set_output(0, model.numClasses ? "logits" : "output");
  // Logits [N, classes], or a feature extractor's last shape.
  std::vector<int64_t> out{0, model.numClasses};
  if (model.numClasses == 0) {
    Expected<std::vector<Shape>> shapes = inferShapes(model, 1);
    if (!shapes)
      return Error{path + ": error: " + shapes.message()};
    out = shapes->back();
  }
  tensorType(g->add_output(), model.numClasses ? "logits" : "output", out);
  try {
    onnx::checker::check_model(m);
  } catch (const std::exception &e) {
    return Error{path + ": error: internal error: the exported model fails the ONNX checker: " +
                 std::string(e.what())};
  }
  std::string bytes;
  if (!m.SerializeToString(&bytes))
    return Error{path + ": error: cannot serialise the ONNX model"};
  return writeFileAtomically(path, bytes);
}

} // namespace ninc
