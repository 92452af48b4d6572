//===- compiler/codegen/cpu/Profile.cpp - Per-op cycle counters ----------===//
//
// What `out/nin bench --profile` reads (CpuCodegen.h, "Profile"):
//
//  tagProfileOps (on tensors, before scheduling): every top-level linalg op
//  gets `nin.prof = <id>`, its layer (the op's NameLoc), a short description
//  and its nominal FLOPs (2 per multiply-add of a contraction, none for
//  fills, copies and transposes, 1 per loop iteration of anything else). Tiling clones the attributes into the tiles.
//
//  instrumentProfile (bufferized, before the loops are lowered): each
//  top-level op of a function that contains tagged ops is a region, labelled
//  by the set of ops inside (a conv with its fused bias/ReLU is one region;
//  consecutive ops with the same set, e.g. a peeled remainder, share one).
//  Around it, calls ninc_prof_mark(r, enter), which codegen::defineProfileHooks
//  (common/Emit.cpp) defines in LLVM IR (internal, inlined by -O3):
//    if (ninc_prof_enabled) ninc_prof_cycles[r] -= readcyclecounter()
//    ... region ...
//    if (ninc_prof_enabled) ninc_prof_cycles[r] += readcyclecounter()
//  Both globals live in the generated object; the runtime sets the flag and
//  reads the counters, so libraries without the runtime link unchanged and a
//  program that does not profile pays one load and branch per region.
//  The table of regions is left as the module attribute `nin.profile`, one
//  line per region: "r<TAB>function<TAB>flops<TAB>description".
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cpu/CpuInternal.h"
#include "compiler/dialect/StageContract.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/STLExtras.h"

#include <map>
#include <set>

using namespace mlir;

namespace ninc::cpu::detail {
namespace {

constexpr const char *kProfId = "nin.prof";
constexpr const char *kProfName = "nin.prof_name";
constexpr const char *kProfFlops = "nin.prof_flops";
constexpr const char *kProfMark = attr::kProfileMarkSymbol;

std::string describe(linalg::LinalgOp op) {
  std::string kind = op->getName().getStringRef().str();
  if (kind.rfind("linalg.", 0) == 0)
    kind = kind.substr(7);
  if (kind == "generic")
    kind = op.getNumReductionLoops() ? "reduction" : "elementwise";
  std::string shape;
  if (op.getNumDpsInits() > 0)
    if (auto t = dyn_cast<ShapedType>(op.getDpsInitOperand(0)->get().getType());
        t && t.hasStaticShape())
      for (int64_t i = 0; i < t.getRank(); ++i)
        shape += (i ? "x" : "") + std::to_string(t.getDimSize(i));
  std::string layer = layerOf(op.getLoc());
  return (layer.empty() ? "" : layer + " ") + kind + (shape.empty() ? "" : " " + shape);
}

int64_t flopsOf(linalg::LinalgOp op) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t n = 1;
  for (int64_t r : ranges) {
    if (ShapedType::isDynamic(r))
      return 0;
    n *= r;
  }
  bool contraction = isa<linalg::ConvolutionOpInterface>(op.getOperation()) ||
                     isa<linalg::MatmulOp, linalg::MatmulTransposeAOp, linalg::BatchMatmulOp>(op) ||
                     (isa<linalg::GenericOp>(op) && op.getNumReductionLoops() > 0 &&
                      op.getNumDpsInputs() >= 2);
  if (isa<linalg::PoolingNhwcMaxOp, linalg::PoolingNhwcSumOp>(op))
    contraction = false;
  if (isa<linalg::FillOp, linalg::CopyOp, linalg::TransposeOp>(op))
    return 0; // data movement
  return contraction ? 2 * n : n;
}

} // namespace

/// The layer name of a location (NameLoc, possibly inside a FusedLoc).
std::string layerOf(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location l : fused.getLocations())
      if (std::string n = layerOf(l); !n.empty())
        return n;
  if (auto call = dyn_cast<CallSiteLoc>(loc))
    return layerOf(call.getCallee());
  return "";
}

void tagProfileOps(ModuleOp module) {
  int64_t next = 0;
  Builder b(module.getContext());
  for (auto func : module.getOps<func::FuncOp>())
    func.walk([&](linalg::LinalgOp op) {
      if (op->getParentOfType<linalg::LinalgOp>())
        return;
      op->setAttr(kProfId, b.getI64IntegerAttr(next++));
      op->setAttr(kProfName, b.getStringAttr(describe(op)));
      // An op inside loops (the weight-gradient groups) runs once an
      // iteration.
      int64_t runs = 1;
      for (auto loop = op->getParentOfType<scf::ForOp>(); loop;
           loop = loop->getParentOfType<scf::ForOp>())
        if (std::optional<int64_t> trips = constantTripCount(
                loop.getLowerBound(), loop.getUpperBound(), loop.getStep()))
          runs *= *trips;
      op->setAttr(kProfFlops, b.getI64IntegerAttr(flopsOf(op) * runs));
    });
}

int64_t profileIdOf(Operation *op) {
  auto id = op->getAttrOfType<IntegerAttr>(kProfId);
  return id ? id.getInt() : -1;
}

std::map<int64_t, int64_t> instrumentProfile(ModuleOp module) {
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  // Each op's name and FLOPs, from any of its clones.
  std::map<int64_t, std::pair<std::string, int64_t>> ops;
  struct Region {
    std::set<int64_t> ids;
    std::string function;
    SmallVector<std::pair<Operation *, Operation *>> spans; // [first, last]
  };
  std::vector<Region> regions;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    std::map<std::set<int64_t>, size_t> byIds;
    std::set<int64_t> previous;
    for (Operation &top : func.getBody().front().without_terminator()) {
      std::set<int64_t> ids;
      top.walk([&](Operation *op) {
        if (auto id = op->getAttrOfType<IntegerAttr>(kProfId)) {
          ids.insert(id.getInt());
          auto name = op->getAttrOfType<StringAttr>(kProfName);
          auto flops = op->getAttrOfType<IntegerAttr>(kProfFlops);
          ops[id.getInt()] = {name ? name.str() : "?", flops ? flops.getInt() : 0};
        }
      });
      if (ids.empty())
        continue;
      auto [it, inserted] = byIds.try_emplace(ids, regions.size());
      if (inserted)
        regions.push_back({ids, func.getName().str(), {}});
      Region &r = regions[it->second];
      if (ids == previous && !r.spans.empty() && r.spans.back().second->getNextNode() &&
          llvm::all_of(llvm::make_range(Block::iterator(r.spans.back().second->getNextNode()),
                                        Block::iterator(&top)),
                       [](Operation &o) { return o.getRegions().empty(); }))
        r.spans.back().second = &top; // the same ops again (a peeled remainder)
      else
        r.spans.push_back({&top, &top});
      previous = ids;
    }
  }
  // Strip the tags (the lowering does not need them).
  module.walk([](Operation *op) {
    op->removeAttr(kProfId);
    op->removeAttr(kProfName);
    op->removeAttr(kProfFlops);
  });
  std::map<int64_t, int64_t> regionOf;
  for (size_t r = 0; r < regions.size(); ++r)
    for (int64_t id : regions[r].ids)
      regionOf[id] = int64_t(r);
  if (regions.empty())
    return regionOf;
  // The hook: `func.call @ninc_prof_mark(r, enter)`, defined in LLVM IR by
  // defineProfileHooks (ops with unknown side effects, like the cycle
  // counter, would stop buffer deallocation here).
  b.setInsertionPointToStart(module.getBody());
  Location loc = module.getLoc();
  auto i64 = b.getI64Type();
  auto markType = b.getFunctionType({i64, b.getI1Type()}, {});
  auto mark = b.create<func::FuncOp>(loc, kProfMark, markType);
  mark.setPrivate();
  auto count = [&](Location l, int64_t r, bool enter) {
    b.create<func::CallOp>(l, mark, ValueRange{b.create<arith::ConstantIntOp>(l, r, 64),
                                               b.create<arith::ConstantIntOp>(l, enter, 1)});
  };
  std::string table;
  for (size_t r = 0; r < regions.size(); ++r) {
    const Region &region = regions[r];
    std::string name;
    int64_t flops = 0;
    for (int64_t id : region.ids) {
      name += (name.empty() ? "" : " + ") + ops[id].first;
      flops += ops[id].second;
    }
    table += std::to_string(r) + "\t" + region.function + "\t" + std::to_string(flops) + "\t" +
             name + "\n";
    for (auto [first, last] : region.spans) {
      b.setInsertionPoint(first);
      count(first->getLoc(), int64_t(r), /*enter=*/true);
      b.setInsertionPointAfter(last);
      count(last->getLoc(), int64_t(r), /*enter=*/false);
    }
  }
  module->setAttr(attr::kProfile, b.getStringAttr(table));
  module->setAttr(attr::kProfileRegions, b.getI64IntegerAttr(int64_t(regions.size())));
  return regionOf;
}

} // namespace ninc::cpu::detail
