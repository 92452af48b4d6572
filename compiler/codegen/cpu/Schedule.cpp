//===- compiler/codegen/cpu/Schedule.cpp - Transform-dialect schedules ---===//
//
// Plans and writes the transform scripts that schedule a module's linalg ops
// (see Scheduler in CpuInternal.h for the two phases).
//
// conv_2d_nhwc_hwcf (dims n, oh, ow, f, kh, kw, c) and matmul (m, n, k), with
// the linalg.fill of their init and a fusable bias/ReLU generic consumer:
//   [threads > 1] tile_using_forall over the batch (conv) or M (matmul) and
//                 fuse_into_containing_op the anchor and its fill;
//   fuse the root with register tiles [1, 1, TW, TF] or [TM, TN], looping
//   over the image in order when the weights fit in L2 (each input window
//   is reused by every column tile) and with the column tiles outermost
//   otherwise (one weight slice stays in L2 while the images stream past);
//   [peel the W / M loop when TW does not divide];
//   a 1x1 chain (matmul -> bias/ReLU -> matmul, the intermediate read by the
//   second only): one forall over blocks of T rows, each computing the
//   first matmul's T x N block (tiles as above, into a per-thread stack
//   buffer) and then the second's, so the intermediate never goes to memory;
//   -- operand packing --
//   tile_using_for the reduction dims to 1; decompose 2-D conv -> 1-D.
// pooling_nhwc_max/sum (n, oh, ow, c, kh, kw): the same without packing, in
//   image order, with the window's KH tiled to 1 before decompose.
// Any other linalg op: [forall over dim 0], then tiles of one vector row
//   along the innermost dim, so vectorization never builds huge vectors.
// Then, on every function: vectorize, fold and cast away unit dims, hoist
// loop-invariant subsets on tensors (keeps accumulators in registers),
// eliminate empty tensors, one-shot bufferize, hoist redundant vector
// transfers and lower the vector ops (contraction -> outer products -> FMAs).
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cpu/CpuInternal.h"
#include "compiler/codegen/common/TransformScript.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/STLExtras.h"

#include <numeric>
#include <tuple>


using namespace mlir;
using ninc::codegen::TransformScript;

namespace ninc::cpu::detail {
namespace {

using Group = Scheduler::Group;
using Kind = Group::Kind;

/// The consumer generic that can be fused into the anchor's register tiles:
/// the only user of the result, all-parallel over the anchor's output dims,
/// reading the result and writing its output through identity maps.
linalg::GenericOp fusableConsumer(linalg::LinalgOp anchor) {
  Value result = anchor->getResult(0);
  if (!result.hasOneUse())
    return {};
  OpOperand &use = *result.getUses().begin();
  auto generic = dyn_cast<linalg::GenericOp>(use.getOwner());
  int64_t outRank = anchor.getRank(anchor.getDpsInitOperand(0));
  // The anchor's result read as an input, or updated in place (the
  // lowering writes bias + ReLU as `outs(%conv)`).
  if (!generic || generic.getNumDpsInits() != 1 ||
      generic.getNumLoops() != static_cast<unsigned>(outRank) ||
      generic.getNumParallelLoops() != generic.getNumLoops() ||
      generic.hasDynamicShape() || (!generic.isDpsInput(&use) && !generic.isDpsInit(&use)))
    return {};
  if (!generic.getMatchingIndexingMap(&use).isIdentity() ||
      !generic.getMatchingIndexingMap(generic.getDpsInitOperand(0))
           .isIdentity())
    return {};
  return generic;
}

linalg::FillOp exclusiveFill(linalg::LinalgOp anchor) {
  auto fill =
      anchor.getDpsInitOperand(0)->get().getDefiningOp<linalg::FillOp>();
  if (!fill || !fill->getResult(0).hasOneUse())
    return {};
  return fill;
}

/// Forall tile sizes over the first of `dims` ((dimension, extent) pairs in
/// order of preference) that has work for every thread: an even share per
/// thread when it divides, else `innerTile` per iteration (OpenMP's static
/// schedule then hands each thread a contiguous block). Empty: no forall.
std::vector<int64_t>
chooseForall(llvm::ArrayRef<std::pair<unsigned, int64_t>> dims, int threads,
             int64_t innerTile = 1) {
  if (threads <= 1)
    return {};
  for (auto [dim, extent] : dims) {
    if (extent / innerTile < threads)
      continue;
    std::vector<int64_t> sizes(dim + 1, 0);
    bool even = extent % (threads * innerTile) == 0;
    sizes[dim] = even ? extent / threads : innerTile;
    return sizes;
  }
  return {};
}

} // namespace

/// A register tile `rows` x `cols` for an output row of `extent` (peeled
/// when rows does not divide it).
static RegisterTile fixedTile(int64_t extent, int64_t rows, int64_t cols) {
  RegisterTile t;
  t.rows = std::min(rows, extent);
  t.cols = cols;
  t.peel = extent % t.rows != 0;
  return t;
}

static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// What streaming a byte costs, relative to L2, when the data streamed
/// (`bytes`) stays in L2 between passes (1), in the threads' L3 (3) or only
/// in memory (12): the order of the bandwidth ratios of x86-64 cores.
static double streamCost(int64_t bytes, const ScheduleParams &p) {
  if (bytes <= p.l2Bytes)
    return 1;
  return bytes <= p.l3Bytes ? 3 : 12;
}

/// Conv reduction loops over at most this many input channels are unrolled.
constexpr int64_t kUnrollChannels = 8;

/// Register tiles for a conv / matmul / pooling anchor: the cost model's
/// plan, with what `choice` names (an autotuned schedule) changed.
void planTiled(Group &g, linalg::LinalgOp anchor, const ScheduleParams &p,
               const ScheduleChoice &choice) {
  const int threads = p.threads;
  llvm::ArrayRef<int64_t> out =
      cast<ShapedType>(anchor.getDpsInitOperand(0)->get().getType()).getShape();
  // Loop order: with weights that stay in L2, sweep the image in order so
  // each input window is reused from L1 by all column tiles; with larger
  // weights, column tiles outermost so one weight slice stays in L2 while
  // the images stream past (measured: 5x5 96->256 203 vs 170 GFLOP/s,
  // 1x1 256->256 188 vs 153 GFLOP/s) - unless streaming the weights from L3
  // once per register tile costs less than streaming the input from memory
  // once per column tile (imageOrderPays, below the tiles).
  auto weights = cast<ShapedType>(anchor->getOperand(1).getType());
  bool weightsFitL2 = g.kind == Kind::Pool ||
                      weights.getNumElements() * 4 <= p.imageOrderWeightBytes;
  if (choice.order >= 0)
    weightsFitL2 = choice.order == 0;
  auto imageOrderPays = [&](int64_t rowTiles, int64_t colTiles) {
    if (weightsFitL2 || choice.order >= 0 || !isWeightView(anchor->getOperand(1)))
      return weightsFitL2;
    int64_t weightBytes = weights.getNumElements() * 4;
    int64_t inputBytes = cast<ShapedType>(anchor->getOperand(0).getType()).getNumElements() * 4;
    return double(rowTiles) * weightBytes * streamCost(weightBytes, p) <
           double(colTiles) * inputBytes * streamCost(inputBytes, p);
  };
  unsigned rowDim;
  RegisterTile tile;
  if (g.kind == Kind::Matmul) {
    rowDim = 0;
    tile = choice.rows > 0 ? fixedTile(out[0], choice.rows, choice.cols)
                           : chooseRegisterTile(out[0], out[1], p);
    g.tileSizes = {tile.rows, tile.cols};
    bool imageOrder = imageOrderPays(ceilDiv(out[0], tile.rows), ceilDiv(out[1], tile.cols));
    g.interchange = imageOrder ? std::vector<int64_t>{0, 1} : std::vector<int64_t>{1, 0};
    g.reductionSizes = {0, 0, 1};
    g.forallSizes = chooseForall({{0, out[0]}}, threads, tile.rows);
    g.packTile = tile.cols < out[1] ? tile.cols : 0;
    // A long reduction into a small output (the 1x1 weight gradients: K =
    // 8 images x H x W): K in blocks whose A and B panels stay in L2 while
    // every register tile sweeps them, instead of each tile streaming all of
    // A's rows and B's column strip from memory. The B panel is then read
    // from L2 in place, so B is not packed.
    // Blocked when a thread's A and B panels over the whole K (K x (M /
    // threads + N) floats) do not fit in half the L2: block 3's 384 x 384
    // weight gradient (K = 1152, 2.6 MiB) streamed them from L3 per tile.
    int64_t k = anchor.getStaticLoopRanges()[2];
    int64_t block = largestDivisorAtMost(k, p.reductionBlock);
    int64_t panelBytes = k * (ceilDiv(out[0], threads) + out[1]) * 4;
    bool blocked = k >= 2 * p.reductionBlock && panelBytes > p.l2Bytes / 2 &&
                   block >= p.reductionBlock / 4 && g.fillTag < 0 && g.consumerTag < 0;
    if (choice.block >= 0) {
      blocked = choice.block > 0 && k % choice.block == 0;
      block = choice.block;
    }
    if (blocked) {
      g.reductionBlocks = {0, 0, block};
      g.packTile = 0;
    }
  } else {
    rowDim = 2;
    tile = choice.rows > 0        ? fixedTile(out[2], choice.rows, choice.cols)
           : g.kind == Kind::Pool ? choosePoolTile(out[2], out[3], p)
                                  : chooseRegisterTile(out[2], out[3], p);
    g.tileSizes = {1, 1, tile.rows, tile.cols};
    g.forallSizes = chooseForall({{0, out[0]}, {1, out[1]}}, threads);
    // Short output rows (the weight gradients' KW = 3 or 5 "pixels"): a tile
    // of several output rows x 32 lanes (3 x 3 x 32) reuses each filter load
    // 3-5x more than one row x 128 (which streams the filter slice from L2:
    // 68% of peak). Hand-built (MicroKernels.cpp): decompose takes one row.
    // Not under two vectors (5 x 5 x 16 on AVX-512): one broadcast per FMA
    // saturates the load ports, and one row x 64 with KH blocks (below) is
    // faster (the 5x5 weight gradient: 216 vs 223 ms).
    const int64_t cols = 2 * p.lanes;
    if (g.kind == Kind::Conv && choice.rows == 0 && tile.rows == out[2] && !tile.peel &&
        out[2] <= 5 && out[3] % cols == 0) {
      int64_t perRow = out[2] * (cols / p.lanes);
      int64_t rows = largestDivisorAtMost(out[1], p.accumulatorBudget / perRow);
      if (rows > 1) {
        g.outputRows = rows;
        tile.cols = cols;
        g.tileSizes = {1, rows, tile.rows, tile.cols};
        g.forallSizes = chooseForall({{0, out[0]}}, threads);
      }
    }
    // A row tile that does not divide the output row (AVX2's 6 pixels of
    // the 26-wide 5x5 conv: 26 = 4 x 6 + 2) leaves a peeled remainder with
    // too few accumulators to hide the FMA latency (2 pixels: 4 of the 8
    // needed; the conv ran at 90% of peak). Two output rows of half as many
    // pixels keep the accumulators (2 x 3) and make the remainder twice as
    // tall (2 x 2: 8 accumulators). Over the batch only: the forall's row
    // blocks must hold whole pairs of rows.
    if (g.kind == Kind::Conv && choice.rows == 0 && g.outputRows == 1 && tile.peel &&
        tile.cols % p.lanes == 0 && out[1] % 2 == 0 && out[0] % threads == 0) {
      int64_t vectors = tile.cols / p.lanes;
      int64_t perRow = tile.rows / 2;
      int64_t rest = out[2] % std::max<int64_t>(perRow, 1);
      if (perRow >= 2 && (rest == 0 || 2 * rest * vectors >= p.minAccumulators) &&
          (out[2] % tile.rows) * vectors < p.minAccumulators) {
        g.outputRows = 2;
        tile.rows = perRow;
        tile.peel = rest != 0;
        g.tileSizes = {1, 2, tile.rows, tile.cols};
        g.forallSizes = chooseForall({{0, out[0]}}, threads);
      }
    }
    if (g.kind == Kind::Conv) {
      int64_t rowTiles = out[0] * ceilDiv(out[1], g.outputRows) * ceilDiv(out[2], tile.rows);
      bool imageOrder = imageOrderPays(rowTiles, ceilDiv(out[3], tile.cols));
      g.interchange = imageOrder ? std::vector<int64_t>{0, 1, 2, 3}
                                 : std::vector<int64_t>{3, 0, 1, 2};
      g.reductionSizes = {0, 0, 0, 0, 1, 1, 1};
      const int64_t channels = weights.getShape()[2];
      if (channels > 1 && channels <= kUnrollChannels)
        g.unrollChannels = channels;
      g.packTile = tile.cols < out[3] ? tile.cols : 0;
      // A filter strip too big for L2 (the weight gradient of a large
      // kernel, whose "filter" is the batch's output gradient): KH in blocks
      // whose strips stay in L2 while every register tile of the block
      // sweeps them (read in place: no packing).
      llvm::ArrayRef<int64_t> f = weights.getShape(); // [KH, KW, C, F]
      int64_t strip = f[0] * f[1] * f[2] * std::min(tile.cols, f[3]) * 4;
      if (strip > 4 * p.filterStripBytes && g.fillTag < 0 && g.consumerTag < 0 &&
          g.outputRows == 1) {
        int64_t rows = largestDivisorAtMost(f[0], p.filterStripBytes * f[0] / strip);
        g.reductionBlocks = {0, 0, 0, 0, rows};
        g.packTile = 0;
      }
    } else {
      g.interchange = {0, 1, 2, 3};
      g.reductionSizes = {0, 0, 0, 0, 1, 0};
    }
  }
  if (tile.peel)
    g.peelLoop = llvm::find(g.interchange, rowDim) - g.interchange.begin();
  g.padding.reset();
  if (g.kind == Kind::Conv && !g.bf16 && !g.unrollChannels && g.reductionBlocks.empty() &&
      tile.cols % p.lanes == 0)
    g.padding = zeroPaddingOf(anchor);
}

void copyTags(Operation *from, Operation *to) {
  for (NamedAttribute a : from->getDiscardableAttrs())
    if (!a.getName().strref().starts_with("linalg."))
      to->setAttr(a.getName(), a.getValue());
}

void tagForSchedule(Operation *op, int64_t tag) {
  op->setAttr(kScheduleTag,
              IntegerAttr::get(IntegerType::get(op->getContext(), 64), tag));
}

Group planRows(int64_t tag, const std::vector<int64_t> &ranges,
               bool innerParallel, int64_t parallelPrefix, const ScheduleParams &p) {
  const int threads = p.threads;
  Group g;
  g.anchorTag = g.rootTag = tag;
  if (ranges.empty())
    return g;
  // The first of the leading parallel dims with work for every thread (dim
  // 0, or an outer one past a unit batch: the 11x11 weight gradient's
  // 1 x 223 x 223 x 8 input transpose ran on one thread).
  std::vector<std::pair<unsigned, int64_t>> dims;
  for (int64_t d = 0; d < parallelPrefix; ++d)
    if (d == 0 || d + 1 < static_cast<int64_t>(ranges.size()))
      dims.push_back({static_cast<unsigned>(d), ranges[d]});
  g.forallSizes = chooseForall(dims, threads);
  g.tileSizes.assign(ranges.size(), 1);
  g.tileSizes.back() =
      innerParallel ? largestDivisorAtMost(ranges.back(), 4 * p.lanes) : 1;
  for (auto [size, range] : llvm::zip(g.tileSizes, ranges))
    if (size == range)
      size = 0; // no loop for a dimension taken whole
  return g;
}

Group planVnniPack(int64_t tag, const std::vector<int64_t> &ranges,
                   int threads) {
  Group g;
  g.anchorTag = g.rootTag = tag;
  std::vector<std::pair<unsigned, int64_t>> dims;
  for (unsigned d = 0; d + 2 < ranges.size(); ++d)
    dims.push_back({d, ranges[d]});
  g.forallSizes = chooseForall(dims, threads);
  g.tileSizes.assign(ranges.size(), 1);
  g.tileSizes[ranges.size() - 2] = g.tileSizes.back() = 0; // tile x 2 whole
  return g;
}

// A transpose planned as rows read one strided element per lane (a cache
// line a float); as 16 x 16 blocks each block reads 16 contiguous runs and
// writes 16 (measured: the 1x1 weight gradients' transposes + matmuls 49 ->
// 31 ms, the step 85.8 -> 89.5 images/s).
std::optional<Group> planTranspose(linalg::LinalgOp op, int64_t tag, const ScheduleParams &p) {
  const int threads = p.threads;
  const int64_t lanes = p.lanes;
  if (op.getNumDpsInits() != 1 || op.getNumParallelLoops() != op.getNumLoops() ||
      op.getNumDpsInputs() == 0 ||
      !op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity())
    return std::nullopt;
  AffineMap map = op.getMatchingIndexingMap(op.getDpsInputOperand(0));
  if (!map.isPermutation() || map.isIdentity())
    return std::nullopt;
  for (OpOperand *in : op.getDpsInputOperands())
    if (op.getMatchingIndexingMap(in) != map)
      return std::nullopt;
  int64_t rank = op.getNumLoops();
  unsigned inner = map.getDimPosition(map.getNumResults() - 1);
  if (inner == static_cast<unsigned>(rank - 1))
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t last = ranges.back();
  if (ranges[inner] % lanes != 0 || (last % lanes != 0 && last > lanes))
    return std::nullopt;
  Group g;
  g.anchorTag = g.rootTag = tag;
  g.tileSizes.assign(rank, 1);
  g.tileSizes[inner] = lanes;
  g.tileSizes.back() = std::min<int64_t>(last, lanes);
  std::vector<std::pair<unsigned, int64_t>> dims;
  for (unsigned d = 0; d + 1 < static_cast<unsigned>(rank); ++d)
    dims.push_back({d, ranges[d]});
  g.forallSizes = chooseForall(dims, threads, 1);
  // The forall's share of a tiled dim must stay a multiple of its tile.
  for (size_t d = 0; d < g.forallSizes.size(); ++d)
    if (g.forallSizes[d] % g.tileSizes[d] != 0)
      g.forallSizes[d] = g.tileSizes[d];
  for (auto [size, range] : llvm::zip(g.tileSizes, ranges))
    if (size == range)
      size = 0;
  return g;
}

/// The rows of one forall iteration of a 1x1 chain (matmul `a` -> its
/// bias/ReLU -> matmul `b`, both planned, M rows): `a`'s T x N block is
/// written and read back from L2 instead of memory (the 54 x 54 x 96 pair
/// streamed 4 x 143 MB at batch 128). T: the largest multiple of both
/// register tiles' rows that divides M into an even share per thread with
/// the block under a quarter of the L2; 0: no chain.
static int64_t chainRowsFor(const Group &a, const Group &b, int64_t m, int64_t aCols,
                            const ScheduleParams &p) {
  if (a.forallSizes.empty() || b.forallSizes.empty() || !a.reductionBlocks.empty() ||
      !b.reductionBlocks.empty() || a.bf16 || b.bf16 || a.chained || a.chainProducer >= 0 ||
      a.peelLoop >= 0 || b.peelLoop >= 0)
    return 0;
  int64_t unit = std::lcm(a.tileSizes[0], b.tileSizes[0]);
  for (int64_t t = std::min<int64_t>(m, p.l2Bytes / 4 / (aCols * 4)) / unit * unit; t >= unit;
       t -= unit)
    if (m % t == 0 && (m / t) % p.threads == 0)
      return t;
  return 0;
}

Scheduler::Scheduler(ModuleOp module, const ScheduleParams &params, ScheduleTuning *tuning)
    : params_(params), tuning_(tuning) {
  llvm::DenseSet<Operation *> claimed;
  auto claim = [&](Operation *op) {
    tagForSchedule(op, nextTag_);
    claimed.insert(op);
    return nextTag_++;
  };
  auto schedulable = [](linalg::LinalgOp op) {
    return !op.hasDynamicShape() && op.hasPureTensorSemantics();
  };
  // A matmul group's fused bias/ReLU consumer -> the group's index (the
  // first matmul of a possible 1x1 chain).
  llvm::DenseMap<Operation *, size_t> matmulRoots;
  // Anchors first, so their fills and consumers are claimed before the
  // second walk reaches them.
  module.walk([&](linalg::LinalgOp op) {
    if (!schedulable(op))
      return;
    Group g;
    g.kind = Kind::Conv;
    if (isa<linalg::MatmulOp, linalg::MatmulTransposeAOp>(op))
      g.kind = Kind::Matmul;
    else if (isa<linalg::PoolingNhwcMaxOp, linalg::PoolingNhwcSumOp>(op))
      g.kind = Kind::Pool;
    else if (!isa<linalg::Conv2DNhwcHwcfOp>(op))
      return;
    g.bf16 = op->hasAttr(kBf16Tag);
    g.anchorTag = g.rootTag = claim(op);
    linalg::GenericOp consumer;
    if (g.kind != Kind::Pool)
      if ((consumer = fusableConsumer(op)))
        g.rootTag = g.consumerTag = claim(consumer);
    if (linalg::FillOp fill = exclusiveFill(op))
      g.fillTag = claim(fill);
    planTiled(g, op, params_);
    if (tuning_ && g.kind != Kind::Pool && !g.bf16)
      planTuned(g, op);
    if (g.kind == Kind::Matmul && g.consumerTag >= 0) {
      Value lhs = op->getOperand(0);
      auto it = matmulRoots.find(lhs.getDefiningOp());
      if (it != matmulRoots.end() && lhs.hasOneUse()) {
        Group &a = groups_[it->second];
        int64_t m = op.getStaticLoopRanges()[0];
        int64_t aCols = cast<ShapedType>(lhs.getType()).getShape()[1];
        if (int64_t rows = chainRowsFor(a, g, m, aCols, params_)) {
          g.chainProducer = int64_t(it->second);
          g.chainRows = rows;
          a.chained = true;
        }
      }
    }
    groups_.push_back(g);
    if (g.kind == Kind::Matmul && consumer)
      matmulRoots[consumer] = groups_.size() - 1;
  });
  module.walk([&](linalg::LinalgOp op) {
    if (claimed.contains(op) || !schedulable(op))
      return;
    if (std::optional<Group> g = planTranspose(op, nextTag_, params_)) {
      claim(op);
      groups_.push_back(*g);
      return;
    }
    auto iterators = op.getIteratorTypesArray();
    int64_t parallelPrefix = 0;
    while (parallelPrefix < static_cast<int64_t>(iterators.size()) &&
           iterators[parallelPrefix] == utils::IteratorType::parallel)
      ++parallelPrefix;
    bool parallelN =
        !iterators.empty() && iterators.back() == utils::IteratorType::parallel;
    llvm::SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    groups_.push_back(planRows(claim(op), {ranges.begin(), ranges.end()},
                               parallelN, parallelPrefix, params_));
  });
}

namespace {

void tileRows(TransformScript &s, const Group &g) {
  std::string op = s.match(g.anchorTag, "%root");
  if (!g.forallSizes.empty())
    op = s.forall(op, g.forallSizes).first;
  s.tile(op, g.tileSizes);
}

} // namespace

std::string Scheduler::tilingScript() const {
  TransformScript s(kScheduleTag);
  // Other ops first: as loops they are no longer producers that
  // structured.fuse would pull (and recompute) into the conv tiles.
  for (const Group &g : groups_)
    if (g.kind == Kind::Rows)
      tileRows(s, g);
  // Register tiles of a group whose root (inside its forall) is `root`.
  auto tileGroup = [&](const Group &g, std::string root) {
    if (!g.reductionBlocks.empty())
      root = s.tile(root, g.reductionBlocks);
    std::vector<std::string> loops = s.fuse(root, g.tileSizes, g.interchange);
    // Full tiles plus one static remainder tile along W (or M); the
    // canonicalization below makes the remainder's shapes static again.
    if (g.peelLoop >= 0)
      s.peel(loops[g.peelLoop]);
  };
  for (const Group &g : groups_) {
    if (g.kind == Kind::Rows || g.chained)
      continue;
    std::string root = s.match(g.rootTag, "%root");
    const Group *producer = g.chainProducer >= 0 ? &groups_[g.chainProducer] : nullptr;
    std::string producerRoot;
    if (!g.forallSizes.empty()) {
      auto [tiled, loop] =
          s.forall(root, producer ? std::vector<int64_t>{g.chainRows} : g.forallSizes);
      if (g.consumerTag >= 0)
        loop = s.fuseInto(s.match(g.anchorTag, "%root"), loop);
      if (g.fillTag >= 0)
        loop = s.fuseInto(s.match(g.fillTag, "%root"), loop);
      // A chain: the first matmul's row block, computed in the same
      // iteration (its consumer, itself, its fill).
      if (producer) {
        std::tie(producerRoot, loop) = s.fuseIntoLoop(s.match(producer->rootTag, "%root"), loop);
        loop = s.fuseInto(s.match(producer->anchorTag, "%root"), loop);
        if (producer->fillTag >= 0)
          loop = s.fuseInto(s.match(producer->fillTag, "%root"), loop);
      }
      root = tiled;
    }
    // The producer's tiles first: as loops they are no longer an op the
    // second matmul's structured.fuse would pull in (and recompute per tile).
    if (producer)
      tileGroup(*producer, producerRoot);
    tileGroup(g, root);
  }
  // Drop what tiling left dead (the untiled originals), so the finishing
  // script can match the anchors' tiles by tag anywhere.
  std::string funcs = s.matchFuncs("%root");
  s.canonicalize(funcs);
  // A chain's row block: a slice of the whole intermediate becomes a
  // tensor.empty of the block (one buffer per iteration, not M rows).
  s.line("transform.apply_patterns to " + funcs +
         " { transform.apply_patterns.tensor.fold_tensor_empty } : !transform.any_op");
  s.cse(funcs);
  return s.text(/*consumesRoot=*/false);
}

std::string Scheduler::finishingScript() const {
  TransformScript s(kScheduleTag);
  for (const Group &g : packGroups_)
    tileRows(s, g);
  for (const Group &g : groups_) {
    if (g.kind == Kind::Rows)
      continue;
    auto [tiled, loops] = s.tileLoops(s.match(g.anchorTag, "%root"), g.reductionSizes);
    if (g.kind != Kind::Matmul)
      s.decompose(tiled);
    // A short channel loop (the weight gradients' groups of 8 images) is
    // unrolled here, so its accumulators stay in registers at any LLVM
    // level (-O2 kept the loop: the 3x3 weight gradient ran 1.8x slower).
    if (g.kind == Kind::Conv && g.unrollChannels > 1 && loops.size() == 3)
      s.unroll(loops[2], g.unrollChannels);
  }
  std::string funcs = s.matchFuncs("%root");
  s.canonicalize(funcs);
  s.cse(funcs);
  s.line("%vectorized = transform.structured.vectorize_children_and_apply_"
         "patterns " +
         funcs + " : (!transform.any_op) -> !transform.any_op");
  s.line(
      "transform.apply_patterns to %vectorized {\n"
      "      transform.apply_patterns.vector.cast_away_vector_leading_one_dim\n"
      "      transform.apply_patterns.canonicalization\n"
      "      transform.apply_patterns.tensor."
      "fold_tensor_subset_ops_into_vector_transfers\n"
      "    } : !transform.any_op");
  s.cse("%vectorized");
  s.line("%hoisted = transform.apply_registered_pass "
         "\"loop-invariant-subset-hoisting\" to %vectorized : "
         "(!transform.any_op) -> !transform.any_op");
  // Forwards the zero fill / accumulator writes the hoisting exposed, so no
  // temporary tile buffer survives bufferization.
  s.canonicalize("%hoisted");
  // transform.structured.eliminate_empty_tensors (MLIR 19) only handles
  // tensor.insert_slice anchors; the pass also follows
  // materialize_in_destination into the output memref.
  s.line("%noempty = transform.apply_registered_pass "
         "\"eliminate-empty-tensors\" to %hoisted : (!transform.any_op) -> "
         "!transform.any_op");
  s.line("%bufferized = transform.bufferization.one_shot_bufferize %root : "
         "(!transform.any_op) -> !transform.any_op");
  std::string bfuncs = s.matchFuncs("%bufferized");
  s.cse(bfuncs);
  s.canonicalize(bfuncs);
  s.line("%lowered = transform.structured.hoist_redundant_vector_transfers " +
         bfuncs + " : (!transform.any_op) -> !transform.any_op");
  s.line("transform.apply_patterns to %lowered {\n"
         "      transform.apply_patterns.vector.lower_contraction "
         "lowering_strategy = \"outerproduct\"\n"
         "      transform.apply_patterns.vector.lower_outerproduct\n"
         "      transform.apply_patterns.vector.transfer_permutation_patterns\n"
         "      transform.apply_patterns.vector.lower_multi_reduction "
         "lowering_strategy = \"innerparallel\"\n"
         "      transform.apply_patterns.vector.split_transfer_full_partial "
         "split_transfer_strategy = \"linalg-copy\"\n"
         "      transform.apply_patterns.vector.transfer_to_scf "
         "max_transfer_rank = 1 full_unroll = true\n"
         "      transform.apply_patterns.vector.lower_transfer "
         "max_transfer_rank = 1\n"
         "      transform.apply_patterns.vector.lower_shape_cast\n"
         "      transform.apply_patterns.vector.lower_transpose "
         "lowering_strategy = \"shuffle_1d\"\n"
         "    } : !transform.any_op");
  return s.text(/*consumesRoot=*/true);
}

} // namespace ninc::cpu::detail
