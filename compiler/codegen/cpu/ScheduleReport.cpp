//===- compiler/codegen/cpu/ScheduleReport.cpp - --schedule-report -------===//
//
// One line per scheduled op: what it is, the rule that planned it and its
// tiles, threads split, order, peeling, packing, fusion and chains.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cpu/CpuInternal.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/DenseMap.h"

using namespace mlir;

namespace ninc::cpu::detail {

using Group = Scheduler::Group;
using Kind = Group::Kind;

namespace {

std::string ints(const std::vector<int64_t> &v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i)
    out += (i ? ", " : "") + std::to_string(v[i]);
  return out + "]";
}

std::string opLabel(Operation *op) {
  std::string name = op->getName().getStringRef().str();
  if (name.rfind("linalg.", 0) == 0)
    name = name.substr(7);
  std::string layer = layerOf(op->getLoc());
  if (!layer.empty())
    layer += " ";
  std::string shape;
  if (auto lop = dyn_cast<linalg::LinalgOp>(op))
    for (int64_t r : lop.getStaticLoopRanges())
      shape += (shape.empty() ? "" : "x") + std::to_string(r);
  return layer + name + " (loops " + shape + ")";
}

} // namespace

std::string Scheduler::report(ModuleOp module) const {
  llvm::DenseMap<int64_t, Operation *> byTag;
  module.walk([&](Operation *op) {
    if (auto tag = op->getAttrOfType<IntegerAttr>(kScheduleTag))
      byTag[tag.getInt()] = op;
  });
  std::string out = "schedule for " + params_.describe() + ":\n";
  for (const Group &g : groups_) {
    Operation *op = byTag.lookup(g.anchorTag);
    if (!op)
      continue;
    const char *kind = g.kind == Kind::Conv     ? "conv: register tiles"
                       : g.kind == Kind::Matmul ? "matmul: register tiles"
                       : g.kind == Kind::Pool   ? "pool: rows"
                                                : "rows";
    out += "  " + opLabel(op) + "\n    " + kind;
    if (g.chained)
      out += ", in the next matmul's forall";
    else if (g.chainProducer >= 0)
      out += ", forall [" + std::to_string(g.chainRows) + "]";
    else
      out += g.forallSizes.empty() ? ", one thread" : ", forall " + ints(g.forallSizes);
    out += ", tiles " + ints(g.tileSizes);
    if (!g.interchange.empty())
      out += ", order " + ints(g.interchange);
    if (!g.reductionSizes.empty())
      out += ", reduction tiles " + ints(g.reductionSizes);
    if (g.peelLoop >= 0)
      out += ", loop " + std::to_string(g.peelLoop) + " peeled";
    if (!g.reductionBlocks.empty())
      out += ", reduction in blocks " + ints(g.reductionBlocks);
    if (g.outputRows > 1)
      out += ", " + std::to_string(g.outputRows) + " output rows a tile (hand-built)";
    if (g.padding)
      out += ", the zero padding's taps skipped (hand-built)";
    if (g.bf16)
      out += ", bf16 vdpbf16ps (filter packed in pairs of channels)";
    if (!g.bf16 && g.packTile > 0)
      out += ", filter packed in columns of " + std::to_string(g.packTile);
    if (g.chainProducer >= 0)
      out += ", chained: the previous matmul's " + std::to_string(g.chainRows) +
             "-row blocks computed in the same forall iteration";
    if (g.fillTag >= 0)
      out += ", fill fused";
    if (g.consumerTag >= 0)
      if (Operation *c = byTag.lookup(g.consumerTag))
        out += ", epilogue fused (" + opLabel(c) + ")";
    out += "\n";
  }
  return out;
}

} // namespace ninc::cpu::detail
