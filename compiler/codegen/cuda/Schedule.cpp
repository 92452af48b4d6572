//===- compiler/codegen/cuda/Schedule.cpp - Ops -> blocks and threads ----===//
//
// The GPU schedule of CudaCodegen.h as a transform script: every linalg op
// is tagged, tiled to a block forall and a nested thread forall, then the
// module is bufferized and each block forall becomes its own gpu.launch.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cuda/CudaInternal.h"

#include "compiler/codegen/common/TransformScript.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/FormatVariadic.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <algorithm>

using namespace mlir;

namespace ninc::cuda::detail {
namespace {

using codegen::joinInts;
using codegen::joinStrings;
constexpr const char *kAny = codegen::kAnyOp;

} // namespace

// out[i] = (i - low in range) ? x[i - low] : pad, one generic over the padded
// shape that reads x with tensor.extract (a gather), so it tiles like any
// other elementwise op.
void padsToGathers(ModuleOp module) {
  SmallVector<tensor::PadOp> pads;
  module.walk([&](tensor::PadOp pad) { pads.push_back(pad); });
  for (tensor::PadOp pad : pads) {
    Value padValue = pad.getConstantPaddingValue();
    auto type = pad.getResultType();
    if (!padValue || !type.hasStaticShape() || !pad.getSourceType().hasStaticShape())
      continue; // verified later: the schedule refuses what stays on the host
    OpBuilder b(pad);
    Location loc = pad.getLoc();
    SmallVector<int64_t> low(pad.getStaticLow());
    ArrayRef<int64_t> srcShape = pad.getSourceType().getShape();
    int64_t rank = type.getRank();
    Value init = b.create<tensor::EmptyOp>(loc, type.getShape(), type.getElementType());
    SmallVector<AffineMap> maps{AffineMap::getMultiDimIdentityMap(rank, b.getContext())};
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    Value source = pad.getSource();
    auto gather = b.create<linalg::GenericOp>(
        loc, TypeRange{type}, ValueRange{}, ValueRange{init}, maps, iters,
        [&](OpBuilder &nb, Location nl, ValueRange) {
          Value inside;
          SmallVector<Value> idx;
          Value zero = nb.create<arith::ConstantIndexOp>(nl, 0);
          for (int64_t d = 0; d < rank; ++d) {
            Value i = nb.create<linalg::IndexOp>(nl, d);
            if (low[d] == 0 && srcShape[d] == type.getDimSize(d)) {
              idx.push_back(i);
              continue;
            }
            Value s = nb.create<arith::SubIOp>(nl, i, nb.create<arith::ConstantIndexOp>(nl, low[d]));
            Value ge = nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::sge, s, zero);
            Value lt = nb.create<arith::CmpIOp>(
                nl, arith::CmpIPredicate::slt, s,
                nb.create<arith::ConstantIndexOp>(nl, srcShape[d]));
            Value ok = nb.create<arith::AndIOp>(nl, ge, lt);
            inside = inside ? nb.create<arith::AndIOp>(nl, inside, ok).getResult() : ok;
            idx.push_back(nb.create<arith::SelectOp>(nl, ok, s, zero));
          }
          Value v = nb.create<tensor::ExtractOp>(nl, source, idx);
          if (inside)
            v = nb.create<arith::SelectOp>(nl, inside, v, padValue);
          nb.create<linalg::YieldOp>(nl, v);
        });
    pad.replaceAllUsesWith(gather.getResult(0));
    pad.erase();
  }
}

namespace {

/// The elementwise epilogue of `op` (bias, ReLU, ...) when it can share op's
/// kernel: op's only user, all-parallel over op's parallel loops, writing in
/// place over op's result.
linalg::GenericOp epilogueOf(linalg::LinalgOp op) {
  if (op->getNumResults() != 1 || !op->getResult(0).hasOneUse() || op.getNumDpsInits() != 1)
    return {};
  auto e = dyn_cast<linalg::GenericOp>(*op->getResult(0).getUsers().begin());
  if (!e || !e.hasPureTensorSemantics() || e.getNumDpsInits() != 1 ||
      e.getDpsInitOperand(0)->get() != op->getResult(0) ||
      e.getNumParallelLoops() != e.getNumLoops() ||
      int64_t(e.getNumLoops()) != int64_t(op.getNumParallelLoops()) ||
      !e.getMatchingIndexingMap(e.getDpsInitOperand(0)).isIdentity())
    return {};
  return e;
}

} // namespace

Expected<std::vector<KernelPlan>> planKernels(ModuleOp module) {
  std::vector<KernelPlan> plans;
  std::string error;
  // Producers fused into a later op's kernel: op -> epilogue runs as one
  // kernel anchored at the epilogue.
  llvm::DenseMap<Operation *, std::vector<Operation *>> fusedInto;
  llvm::DenseSet<Operation *> fused;
  int64_t nextFusedTag = 0;
  // Convolutions and matmuls become GEMM kernels (GemmKernels.cpp) with their
  // accumulator's fill and their epilogue: tagged here, left untiled.
  int64_t nextGemm = 0;
  auto i64 = IntegerType::get(module.getContext(), 64);
  module.walk([&](linalg::LinalgOp op) {
    if (!isGemmCandidate(op))
      return;
    auto id = IntegerAttr::get(i64, nextGemm++);
    op->setAttr(kGemmTag, id);
    fused.insert(op);
    if (linalg::GenericOp e = epilogueOf(op)) {
      e->setAttr(kGemmEpilogueTag, id);
      fused.insert(e);
    }
    if (auto fill = op.getDpsInitOperand(0)->get().getDefiningOp<linalg::FillOp>();
        fill && fill->getResult(0).hasOneUse()) {
      fill->setAttr(kGemmFillTag, id);
      fused.insert(fill);
    }
  });
  // A NiN block's 1x1 pair: matmul -> epilogue -> (only) the next matmul's A.
  module.walk([&](linalg::MatmulOp second) {
    auto epi = second.getInputs()[0].getDefiningOp<linalg::GenericOp>();
    if (!second->hasAttr(kGemmTag) || !epi || !epi->hasAttr(kGemmEpilogueTag) ||
        !epi->getResult(0).hasOneUse())
      return;
    auto first = epi.getDpsInitOperand(0)->get().getDefiningOp<linalg::MatmulOp>();
    if (first && first->getAttr(kGemmTag) == epi->getAttr(kGemmEpilogueTag))
      second->setAttr(kGemmChainTag, first->getAttr(kGemmTag));
  });
  module.walk([&](linalg::LinalgOp op) {
    if (!op.hasPureTensorSemantics() || op->getParentOfType<linalg::LinalgOp>() ||
        fused.contains(op))
      return;
    if (!isa<linalg::FillOp>(op) && op.getNumReductionLoops() > 0)
      if (linalg::GenericOp e = epilogueOf(op)) {
        std::vector<Operation *> &producers = fusedInto[e];
        // (The accumulator's fill stays its own kernel: after op is fused
        // through the epilogue's destination, fuse_into_containing_op finds
        // no use of the fill inside the forall.)
        producers.push_back(op);
        fused.insert(op);
        return;
      }
    KernelPlan p;
    p.tag = int64_t(plans.size());
    for (Operation *producer : fusedInto.lookup(op)) {
      int64_t id = nextFusedTag++;
      producer->setAttr(kFusedTag, IntegerAttr::get(IntegerType::get(op->getContext(), 64), id));
      p.fusedTags.push_back(id);
    }
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
    std::vector<size_t> par;
    for (size_t i = 0; i < iters.size(); ++i)
      if (iters[i] == utils::IteratorType::parallel)
        par.push_back(i);
    if (par.empty() || llvm::any_of(ranges, ShapedType::isDynamic)) {
      error = "cuda backend: cannot map '" + op->getName().getStringRef().str() +
              "' (no parallel loop or a dynamic shape) to GPU threads";
      return;
    }
    size_t r = par.size(), n = ranges.size();
    p.blockTiles.assign(n, 0);
    p.threadCounts.assign(n, 0);
    // The tiled dims of the block forall, in loop order, with their grid extents.
    std::vector<std::pair<size_t, int64_t>> grid;
    auto tileBlocks = [&](size_t loop, int64_t size) {
      p.blockTiles[loop] = size;
      grid.push_back({loop, (ranges[loop] + size - 1) / size});
    };
    if (r == 1) {
      tileBlocks(par[0], 256);
      p.threadCounts[par[0]] = std::min<int64_t>(256, ranges[par[0]]);
      p.blockDims = {p.threadCounts[par[0]], 1, 1};
      p.threadMapping = {"#gpu.thread<x>"};
    } else if (r == 2) {
      tileBlocks(par[0], 8);
      tileBlocks(par[1], 32);
      p.threadCounts[par[0]] = std::min<int64_t>(8, ranges[par[0]]);
      p.threadCounts[par[1]] = std::min<int64_t>(32, ranges[par[1]]);
      p.blockDims = {p.threadCounts[par[1]], p.threadCounts[par[0]], 1};
      p.threadMapping = {"#gpu.thread<y>", "#gpu.thread<x>"};
    } else {
      // Outer loops beyond three stay sequential in each thread.
      if (r >= 4)
        tileBlocks(par[r - 4], 1);
      tileBlocks(par[r - 3], 1);
      tileBlocks(par[r - 1], 32);
      p.threadCounts[par[r - 2]] = std::min<int64_t>(8, ranges[par[r - 2]]);
      p.threadCounts[par[r - 1]] = std::min<int64_t>(32, ranges[par[r - 1]]);
      p.blockDims = {p.threadCounts[par[r - 1]], p.threadCounts[par[r - 2]], 1};
      p.threadMapping = {"#gpu.thread<y>", "#gpu.thread<x>"};
    }
    // The largest grid extent on x (2^31 - 1 blocks), the others on y, z
    // (65535 each).
    std::vector<size_t> byExtent(grid.size());
    for (size_t i = 0; i < grid.size(); ++i)
      byExtent[i] = i;
    std::stable_sort(byExtent.begin(), byExtent.end(),
                     [&](size_t a, size_t b) { return grid[a].second > grid[b].second; });
    const char *axes[] = {"x", "y", "z"};
    p.blockMapping.assign(grid.size(), "");
    for (size_t k = 0; k < byExtent.size(); ++k) {
      if (k > 0 && grid[byExtent[k]].second > 65535) {
        error = "cuda backend: '" + op->getName().getStringRef().str() + "' needs " +
                std::to_string(grid[byExtent[k]].second) + " blocks on grid axis " + axes[k] +
                " (at most 65535): use a smaller batch";
        return;
      }
      p.blockMapping[byExtent[k]] = std::string("#gpu.block<") + axes[k] + ">";
    }
    op->setAttr(kKernelTag, IntegerAttr::get(IntegerType::get(op->getContext(), 64), p.tag));
    plans.push_back(std::move(p));
  });
  if (!error.empty())
    return Error{error};
  return plans;
}

std::string scheduleScript(const std::vector<KernelPlan> &plans, bool mapToGpu) {
  codegen::TransformScript s(kKernelTag);
  for (const KernelPlan &p : plans) {
    std::string op = s.fresh();
    s.line(llvm::formatv("{0} = transform.structured.match attributes{{{1} = {2} : i64} in "
                         "%root : ({3}) -> {3}",
                         op, kKernelTag, p.tag, kAny));
    std::string tiled = s.fresh(), blocks = s.fresh();
    std::string mapping = mapToGpu ? " (mapping = [" + joinStrings(p.blockMapping) + "])" : "";
    s.line(llvm::formatv("{0}, {1} = transform.structured.tile_using_forall {2} tile_sizes "
                         "[{3}]{4} : ({5}) -> ({5}, {5})",
                         tiled, blocks, op, joinInts(p.blockTiles), mapping, kAny));
    s.line(llvm::formatv("transform.annotate {0} \"{1}\" = %p{2} : {3}, !transform.param<i64>",
                         blocks, kKernelTag, p.tag, kAny));
    // The producers into the block tile, then into each thread's tile.
    std::vector<std::string> producers;
    for (int64_t id : p.fusedTags) {
      std::string h = s.fresh();
      s.line(llvm::formatv("{0} = transform.structured.match attributes{{{1} = {2} : i64} in "
                           "%root : ({3}) -> {3}",
                           h, kFusedTag, id, kAny));
      std::string fusedOp = s.fresh(), loop = s.fresh();
      s.line(llvm::formatv("{0}, {1} = transform.structured.fuse_into_containing_op {2} into "
                           "{3} : ({4}, {4}) -> ({4}, {4})",
                           fusedOp, loop, h, blocks, kAny));
      blocks = loop;
      producers.push_back(fusedOp);
    }
    std::string inner = s.fresh(), threads = s.fresh();
    mapping = mapToGpu ? " (mapping = [" + joinStrings(p.threadMapping) + "])" : "";
    s.line(llvm::formatv("{0}, {1} = transform.structured.tile_using_forall {2} num_threads "
                         "[{3}]{4} : ({5}) -> ({5}, {5})",
                         inner, threads, tiled, joinInts(p.threadCounts), mapping, kAny));
    for (const std::string &producer : producers) {
      std::string fusedOp = s.fresh(), loop = s.fresh();
      s.line(llvm::formatv("{0}, {1} = transform.structured.fuse_into_containing_op {2} into "
                           "{3} : ({4}, {4}) -> ({4}, {4})",
                           fusedOp, loop, producer, threads, kAny));
      threads = loop;
    }
  }
  std::string funcs = s.matchFuncs("%root");
  s.canonicalize(funcs);
  s.cse(funcs);
  s.line("%noempty = transform.apply_registered_pass \"eliminate-empty-tensors\" to " + funcs +
         " : (!transform.any_op) -> !transform.any_op");
  s.line("%bufferized = transform.bufferization.one_shot_bufferize %root : "
         "(!transform.any_op) -> !transform.any_op");
  std::string bfuncs = s.matchFuncs("%bufferized");
  s.cse(bfuncs);
  s.canonicalize(bfuncs);
  if (mapToGpu)
    for (const KernelPlan &p : plans) {
      std::string f = s.fresh(), launch = s.fresh();
      s.line(llvm::formatv("{0} = transform.structured.match ops{{[\"scf.forall\"]} "
                           "attributes{{{1} = {2} : i64} in %bufferized : ({3}) -> {3}",
                           f, kKernelTag, p.tag, kAny));
      s.line(llvm::formatv("{0} = transform.gpu.map_forall_to_blocks {1} generate_gpu_launch : "
                           "({2}) -> {2}",
                           launch, f, kAny));
      s.line(llvm::formatv("{0} = transform.gpu.map_nested_forall_to_threads {1} block_dims = "
                           "[{2}] : ({3}) -> {3}",
                           s.fresh(), launch, joinInts(p.blockDims), kAny));
    }
  // The annotation values: one transform.param per kernel.
  std::string params;
  for (const KernelPlan &p : plans)
    params += llvm::formatv("    %p{0} = transform.param.constant {0} : i64 -> "
                            "!transform.param<i64>\n",
                            p.tag);
  std::string text = s.text(/*consumesRoot=*/true);
  size_t body = text.find("{\n", text.find("@__transform_main")) + 2;
  return text.insert(body, params);
}

} // namespace ninc::cuda::detail
