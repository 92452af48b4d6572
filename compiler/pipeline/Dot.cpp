//===- compiler/pipeline/Dot.cpp - The fused graph for Graphviz -----------===//

#include "compiler/pipeline/Dot.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/DenseMap.h"

namespace ninc {

namespace {

std::string shapeOf(mlir::Type type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  if (auto t = mlir::dyn_cast<mlir::RankedTensorType>(type))
    llvm::interleave(t.getShape(), os, "x");
  else
    os << type;
  return s;
}

/// Layer names carried by a location: NameLoc("block1.0"), fused for fused ops.
void layerNames(mlir::Location loc, std::vector<std::string> &names) {
  if (auto name = mlir::dyn_cast<mlir::NameLoc>(loc)) {
    names.push_back(name.getName().str());
  } else if (auto fused = mlir::dyn_cast<mlir::FusedLoc>(loc)) {
    for (mlir::Location l : fused.getLocations())
      layerNames(l, names);
  }
}

std::string escape(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out;
}

} // namespace

void printDot(mlir::ModuleOp module, llvm::raw_ostream &os) {
  for (auto func : module.getOps<mlir::func::FuncOp>()) {
    os << "digraph \"" << escape(func.getName().str()) << "\" {\n"
       << "  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n";
    llvm::DenseMap<mlir::Value, std::string> node;
    // The image input is a node; parameters are shown inside their op.
    node[func.getArgument(0)] = "input";
    os << "  input [label=\"input\\n" << shapeOf(func.getArgument(0).getType())
       << "\", shape=ellipse];\n";
    int id = 0;
    for (mlir::Operation &op : func.getBody().front()) {
      std::string name = op.hasTrait<mlir::OpTrait::IsTerminator>() ? "output"
                                                                    : "op" + std::to_string(id++);
      std::vector<std::string> layers;
      if (name != "output")
        layerNames(op.getLoc(), layers);
      std::string label = name == "output" ? "logits" : op.getName().getStringRef().str();
      if (!layers.empty()) {
        label += "\\n";
        for (size_t i = 0; i < layers.size(); ++i)
          label += (i ? ", " : "") + escape(layers[i]);
      }
      if (op.getNumResults() == 1)
        label += "\\n" + shapeOf(op.getResult(0).getType());
      os << "  " << name << " [label=\"" << label << "\""
         << (name == "output" ? ", shape=ellipse" : "") << "];\n";
      for (mlir::Value operand : op.getOperands())
        if (auto it = node.find(operand); it != node.end())
          os << "  " << it->second << " -> " << name << ";\n";
      for (mlir::Value result : op.getResults())
        node[result] = name;
    }
    os << "}\n";
  }
}

} // namespace ninc
