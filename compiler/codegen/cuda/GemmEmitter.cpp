//===- compiler/codegen/cuda/GemmEmitter.cpp - GEMM operands and epilogues ===//
//
// The accesses every GEMM kernel makes (GemmKernels.h): A(m, k) and B(k, n)
// from a matmul's operands or, for a convolution, straight from its input
// and filter (implicit GEMM), C's indices for (m, n), and the epilogue's
// body cloned onto an accumulated value. Also the kernel that an epilogue
// or fill gets when bufferization separated it from its GEMM: one thread
// per element.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cuda/GemmKernels.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;

namespace ninc::cuda::detail::gemm {

Value Emitter::guardedLoad(Value cond, llvm::function_ref<Value()> load) {
  if (!cond)
    return load();
  auto ifOp = b.create<scf::IfOp>(
      loc, cond,
      [&](OpBuilder &, Location) { b.create<scf::YieldOp>(loc, load()); },
      [&](OpBuilder &, Location) { b.create<scf::YieldOp>(loc, zeroF()); });
  return ifOp.getResult(0);
}

SmallVector<Value> Emitter::cIndices(const Gemm &g, Value m, Value n) {
  if (g.kind == Gemm::Matmul)
    return {m, n};
  Value r = rem(m, g.OH * g.OW);
  return {div(m, g.OH * g.OW), div(r, g.OW), rem(r, g.OW), n};
}

Value Emitter::loadA(const Gemm &g, Value m, Value k) {
  if (g.kind == Gemm::Matmul)
    return b.create<memref::LoadOp>(loc, g.a, ValueRange{m, k});
  Value r = rem(m, g.OH * g.OW), rk = rem(k, g.KW * g.CI);
  Value image = div(m, g.OH * g.OW), oh = div(r, g.OW), ow = rem(r, g.OW);
  Value kh = div(k, g.KW * g.CI), kw = div(rk, g.CI), ci = rem(rk, g.CI);
  Value h = add(mul(oh, g.sh), mul(kh, g.dh)), w = add(mul(ow, g.sw), mul(kw, g.dw));
  return b.create<memref::LoadOp>(loc, g.a, ValueRange{image, h, w, ci});
}

Value Emitter::loadB(const Gemm &g, Value k, Value n) {
  if (g.kind == Gemm::Matmul)
    return b.create<memref::LoadOp>(loc, g.b, ValueRange{k, n});
  Value rk = rem(k, g.KW * g.CI);
  return b.create<memref::LoadOp>(
      loc, g.b, ValueRange{div(k, g.KW * g.CI), div(rk, g.CI), rem(rk, g.CI), n});
}

Value Emitter::applyEpilogue(linalg::GenericOp e, ArrayRef<Value> cIdx, Value v) {
  if (!e)
    return v;
  IRMapping map;
  Block &body = e.getRegion().front();
  for (OpOperand *in : e.getDpsInputOperands()) {
    Value arg = body.getArgument(in->getOperandNumber());
    if (!isa<ShapedType>(in->get().getType())) {
      map.map(arg, in->get());
      continue;
    }
    AffineMap m = e.getMatchingIndexingMap(in);
    SmallVector<Value> indices;
    for (AffineExpr expr : m.getResults())
      indices.push_back(b.create<affine::AffineApplyOp>(
          loc, AffineMap::get(m.getNumDims(), 0, expr), cIdx));
    map.map(arg, b.create<memref::LoadOp>(loc, in->get(), indices));
  }
  map.map(body.getArgument(e.getNumDpsInputs()), v);
  for (Operation &op : body.without_terminator()) {
    if (auto index = dyn_cast<linalg::IndexOp>(op)) {
      map.map(index.getResult(), cIdx[index.getDim()]);
      continue;
    }
    b.clone(op, map);
  }
  return map.lookup(cast<linalg::YieldOp>(body.getTerminator()).getOperand(0));
}

void emitElementwise(OpBuilder &b, Location loc, linalg::LinalgOp op, bool emulate) {
  Emitter e(b, loc);
  Value out = op.getDpsInitOperand(0)->get();
  auto type = cast<MemRefType>(out.getType());
  const int64_t n = type.getNumElements(), threads = 256, blocks = (n + threads - 1) / threads;
  auto element = [&](Value linear) {
    SmallVector<Value> coords(type.getRank());
    Value rest = linear;
    for (int64_t d = type.getRank() - 1; d >= 0; --d) {
      coords[d] = e.rem(rest, type.getDimSize(d));
      rest = e.div(rest, type.getDimSize(d));
    }
    Value v;
    if (auto fill = dyn_cast<linalg::FillOp>(op.getOperation()))
      v = fill.getInputs()[0];
    else
      v = e.applyEpilogue(cast<linalg::GenericOp>(op.getOperation()), coords,
                          b.create<memref::LoadOp>(loc, out, coords));
    b.create<memref::StoreOp>(loc, v, out, coords);
  };
  if (emulate) {
    auto loop = b.create<scf::ForOp>(loc, e.idx(0), e.idx(n), e.idx(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    element(loop.getInductionVar());
    return;
  }
  auto launch = b.create<gpu::LaunchOp>(loc, e.idx(blocks), e.idx(1), e.idx(1), e.idx(threads),
                                        e.idx(1), e.idx(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value linear = e.add(e.mul(launch.getBlockIds().x, threads), launch.getThreadIds().x);
  auto ifOp = b.create<scf::IfOp>(loc, e.lt(linear, n), /*withElseRegion=*/false);
  b.setInsertionPointToStart(&ifOp.getThenRegion().front());
  element(linear);
  b.setInsertionPointToEnd(&launch.getBody().front());
  b.create<gpu::TerminatorOp>(loc);
}

} // namespace ninc::cuda::detail::gemm
