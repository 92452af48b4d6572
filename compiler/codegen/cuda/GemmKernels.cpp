//===- compiler/codegen/cuda/GemmKernels.cpp - Ops -> tiled GEMM kernels --===//
//
// Which ops become the tiled GEMM kernels of GemmKernels.h, and with what:
// ops the schedule planned as GEMM kernels (kGemmTag) are found here after
// bufferization, each with the zero fill of its accumulator and its in-place
// epilogue when those still sit next to it on the same buffer, and the 1x1
// chains (kGemmChainTag) whose intermediate can stay in shared memory. An
// epilogue or fill that bufferization separated from its GEMM becomes an
// elementwise kernel (one thread per element) instead. The tile sizes are
// chosen here too.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cuda/GemmKernels.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <algorithm>

using namespace mlir;

namespace ninc::cuda::detail {

bool isGemmCandidate(linalg::LinalgOp op) {
  if (!op.hasPureTensorSemantics() || op->getNumResults() != 1)
    return false;
  auto f32Static = [](Value v) {
    auto t = dyn_cast<ShapedType>(v.getType());
    return t && t.hasStaticShape() && t.getElementType().isF32();
  };
  if (!llvm::all_of(op->getOperands(), f32Static))
    return false;
  return isa<linalg::MatmulOp, linalg::Conv2DNhwcHwcfOp>(op.getOperation());
}

namespace gemm {

Tiles tilesFor(const Gemm &g) {
  Tiles t;
  t.BN = g.N >= 64 ? 64 : g.N > 16 ? 32 : 16;
  t.T = (t.BM / t.TM) * (t.BN / t.TN);
  t.WN = std::min<int64_t>(32, t.BN);
  t.WM = t.BM / ((t.T / 32) / (t.BN / t.WN));
  return t;
}

Tiles chainTiles() {
  Tiles t;
  t.BM = 16;
  t.BN = 64;
  t.T = (t.BM / t.TM) * (t.BN / t.TN);
  t.WN = 32;
  t.WM = t.BM / ((t.T / 32) / (t.BN / t.WN));
  return t;
}

} // namespace gemm

namespace {

using gemm::Gemm;
using gemm::Stage;

bool isZeroFill(linalg::FillOp fill) {
  auto c = fill.getInputs()[0].getDefiningOp<arith::ConstantOp>();
  auto f = c ? dyn_cast<FloatAttr>(c.getValue()) : FloatAttr();
  return f && f.getValue().isZero();
}

/// Whether `first` comes before `second` in one block with nothing but
/// side-effect-free ops (views, constants) in between.
bool onlyViewsBetween(Operation *first, Operation *second) {
  if (first->getBlock() != second->getBlock() || !first->isBeforeInBlock(second))
    return false;
  for (Operation *op = first->getNextNode(); op != second; op = op->getNextNode())
    if (!isMemoryEffectFree(op))
      return false;
  return true;
}

int64_t tagOf(Operation *op, const char *name) {
  auto a = op->getAttrOfType<IntegerAttr>(name);
  return a ? a.getInt() : -1;
}

/// Erases the views and the allocation behind `v` that nothing uses.
void eraseDeadBuffer(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (!def->use_empty() ||
        !isa<memref::AllocOp, memref::SubViewOp, memref::CollapseShapeOp, memref::ExpandShapeOp,
             memref::CastOp>(def))
      return;
    Value source = def->getNumOperands() ? def->getOperand(0) : Value();
    def->erase();
    if (!source)
      return;
    v = source;
  }
}

/// Everything the schedule handed to the GEMM kernels in a module, by GEMM
/// id, and the kernels made of it.
class GemmOps {
public:
  /// The tagged ops of `module`, for kernels of `precision`.
  GemmOps(ModuleOp module, Precision precision);
  /// An error unless every GEMM op was bufferized.
  Status checkBufferized() const;
  /// The 1x1 chains (kGemmChainTag) that still hold after bufferization.
  void findChains();
  /// Each GEMM, or chain, as one kernel; its ops, fills and epilogues erased.
  void emitGemms(bool emulate);
  /// Fills and epilogues bufferization separated from their GEMM.
  Status emitSeparated(bool emulate);

private:
  /// The GEMM of a tagged op after bufferization, with the zero fill that
  /// precedes it on C (returned, not yet erased) and its in-place epilogue.
  Gemm describe(linalg::LinalgOp op, linalg::FillOp &zeroFill) const;
  /// Erases the fill and epilogue that kernel `id` took in.
  void consume(int64_t id, const Gemm &g, linalg::FillOp fill);

  Precision precision;
  llvm::DenseMap<int64_t, linalg::LinalgOp> gemms, fills, epilogues;
  SmallVector<Operation *> order;           ///< the GEMM ops, in module order
  llvm::DenseMap<int64_t, int64_t> chainOf; ///< a chain's second GEMM -> its first
  llvm::DenseSet<int64_t> producers;        ///< the first GEMMs of chains
};

GemmOps::GemmOps(ModuleOp module, Precision precision) : precision(precision) {
  module.walk([&](linalg::LinalgOp op) {
    if (int64_t id = tagOf(op, kGemmTag); id >= 0)
      gemms[id] = op, order.push_back(op);
    else if (int64_t id = tagOf(op, kGemmFillTag); id >= 0)
      fills[id] = op;
    else if (int64_t id = tagOf(op, kGemmEpilogueTag); id >= 0)
      epilogues[id] = op;
  });
}

Status GemmOps::checkBufferized() const {
  for (Operation *op : order)
    if (!cast<linalg::LinalgOp>(op).hasPureBufferSemantics())
      return Error{"cuda backend: internal error: a GEMM kernel's op was not bufferized"};
  return Status::ok();
}

Gemm GemmOps::describe(linalg::LinalgOp op, linalg::FillOp &zeroFill) const {
  int64_t id = tagOf(op, kGemmTag);
  Gemm g;
  g.precision = precision;
  g.a = op.getDpsInputOperand(0)->get();
  g.b = op.getDpsInputOperand(1)->get();
  g.c = op.getDpsInitOperand(0)->get();
  auto cType = cast<MemRefType>(g.c.getType());
  if (auto conv = dyn_cast<linalg::Conv2DNhwcHwcfOp>(op.getOperation())) {
    g.kind = Gemm::Conv;
    auto wType = cast<MemRefType>(g.b.getType());
    g.OH = cType.getDimSize(1);
    g.OW = cType.getDimSize(2);
    g.KW = wType.getDimSize(1);
    g.CI = wType.getDimSize(2);
    g.M = cType.getDimSize(0) * g.OH * g.OW;
    g.N = cType.getDimSize(3);
    g.K = wType.getDimSize(0) * g.KW * g.CI;
    auto strides = conv.getStrides().getValues<int64_t>();
    auto dilations = conv.getDilations().getValues<int64_t>();
    g.sh = strides[0], g.sw = strides[1], g.dh = dilations[0], g.dw = dilations[1];
  } else {
    g.M = cType.getDimSize(0);
    g.N = cType.getDimSize(1);
    g.K = cast<MemRefType>(g.a.getType()).getDimSize(1);
  }
  // The zero fill right before the GEMM on the same buffer starts the
  // accumulators at zero instead; the in-place epilogue on C runs on them.
  zeroFill = {};
  if (auto fill = dyn_cast_or_null<linalg::FillOp>(fills.lookup(id).getOperation());
      fill && isZeroFill(fill) && sameView(fill.getOutputs()[0], g.c) &&
      onlyViewsBetween(fill, op)) {
    g.accumulate = false;
    zeroFill = fill;
  }
  if (auto epi = dyn_cast_or_null<linalg::GenericOp>(epilogues.lookup(id).getOperation());
      epi && sameView(epi.getDpsInitOperand(0)->get(), g.c) && onlyViewsBetween(op, epi))
    g.epilogue = epi; // else: not in place, or something in between: its own kernel
  return g;
}

void GemmOps::findChains() {
  // The first matmul zero-filled with its epilogue in place, writing
  // exactly the second's A, with nothing but views and the second's fill in
  // between.
  for (Operation *op2 : order) {
    int64_t id1 = tagOf(op2, kGemmChainTag), id2 = tagOf(op2, kGemmTag);
    linalg::LinalgOp op1 = gemms.lookup(id1);
    if (id1 < 0 || !op1)
      continue;
    linalg::FillOp fill1, fill2;
    Gemm g1 = describe(op1, fill1);
    Gemm g2 = describe(cast<linalg::LinalgOp>(op2), fill2);
    bool ok = g1.kind == Gemm::Matmul && g2.kind == Gemm::Matmul && !g1.accumulate &&
              !g2.accumulate && g1.epilogue && sameView(g2.a, g1.c) && g1.N % 16 == 0 &&
              g1.N <= kMaxChainChannels && g1.M == g2.M && g1.N == g2.K &&
              g1.epilogue->getBlock() == op2->getBlock() && g1.epilogue->isBeforeInBlock(op2);
    for (Operation *o = ok ? g1.epilogue->getNextNode() : nullptr; o && o != op2;
         o = o->getNextNode())
      ok &= isMemoryEffectFree(o) || o == fill2.getOperation();
    if (ok) {
      chainOf[id2] = id1;
      producers.insert(id1);
    }
  }
}

void GemmOps::consume(int64_t id, const Gemm &g, linalg::FillOp fill) {
  if (fill) {
    fill->erase();
    fills.erase(id);
  }
  if (g.epilogue) {
    g.epilogue->erase();
    epilogues.erase(id);
  }
}

void GemmOps::emitGemms(bool emulate) {
  for (Operation *raw : order) {
    auto op = cast<linalg::LinalgOp>(raw);
    int64_t id = tagOf(op, kGemmTag);
    if (producers.contains(id))
      continue; // emitted with the second matmul of its chain
    linalg::FillOp fill;
    Gemm g = describe(op, fill);
    OpBuilder b(op);
    if (auto it = chainOf.find(id); it != chainOf.end()) {
      linalg::LinalgOp op1 = gemms.lookup(it->second);
      linalg::FillOp fill1;
      Gemm g1 = describe(op1, fill1);
      gemm::emitKernel(b, op.getLoc(),
                       {Stage{g1, /*cShared=*/true}, Stage{g, false, /*aShared=*/true}},
                       emulate);
      consume(it->second, g1, fill1);
      op1->erase();
      consume(id, g, fill);
      op->erase();
      eraseDeadBuffer(g1.c);
      continue;
    }
    gemm::emitKernel(b, op.getLoc(), {Stage{g}}, emulate);
    consume(id, g, fill);
    op->erase();
  }
}

Status GemmOps::emitSeparated(bool emulate) {
  for (auto *table : {&fills, &epilogues})
    for (auto &[id, op] : *table) {
      if (op.getNumDpsInits() != 1 || op.getNumParallelLoops() != op.getNumLoops() ||
          !op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity())
        return Error{"cuda backend: internal error: a GEMM epilogue could not be emitted"};
      OpBuilder b(op);
      gemm::emitElementwise(b, op.getLoc(), op, emulate);
      op->erase();
    }
  return Status::ok();
}

} // namespace

Status emitGemmKernels(ModuleOp module, bool emulate, Precision precision) {
  GemmOps ops(module, precision);
  if (Status s = ops.checkBufferized(); !s)
    return s;
  ops.findChains();
  ops.emitGemms(emulate);
  return ops.emitSeparated(emulate);
}

} // namespace ninc::cuda::detail
