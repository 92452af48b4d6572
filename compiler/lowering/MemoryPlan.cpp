//===- compiler/lowering/MemoryPlan.cpp - Static activation arena ---------===//

#include "compiler/lowering/MemoryPlan.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include <algorithm>

using namespace mlir;

namespace ninc {

namespace {

constexpr int64_t kAlign = 64;

struct Buffer {
  memref::AllocOp alloc;
  int64_t bytes = 0;
  int start = 0, end = 0; ///< Live range in entry-block op positions, inclusive.
  int64_t offset = -1;
};

/// The position in `block` of the op (or its ancestor) that uses a value.
int positionIn(Block &block, Operation *user, const DenseMap<Operation *, int> &pos) {
  Operation *op = block.findAncestorOpInBlock(*user);
  return op ? pos.lookup(op) : -1;
}

/// Last use (through views of it) of `root`; -1 if it escapes the function.
int lastUse(Value root, Block &block, const DenseMap<Operation *, int> &pos) {
  int last = pos.lookup(root.getDefiningOp());
  SmallVector<Value> work{root};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (isa<func::ReturnOp>(user))
        return -1;
      int p = positionIn(block, user, pos);
      if (p < 0)
        return -1;
      last = std::max(last, p);
      if (auto view = dyn_cast<ViewLikeOpInterface>(user); view && view.getViewSource() == v)
        for (Value r : user->getResults())
          work.push_back(r);
    }
  }
  return last;
}

int64_t bytesOf(MemRefType t) {
  return t.getNumElements() * int64_t(t.getElementTypeBitWidth() / 8);
}

} // namespace

ArenaPlan planActivationArena(func::FuncOp func) {
  ArenaPlan plan;
  Block &block = func.getBody().front();
  DenseMap<Operation *, int> pos;
  int i = 0;
  for (Operation &op : block)
    pos[&op] = i++;

  std::vector<Buffer> buffers;
  for (auto alloc : block.getOps<memref::AllocOp>()) {
    MemRefType t = alloc.getType();
    if (!t.hasStaticShape() || !t.getLayout().isIdentity() || t.getElementTypeBitWidth() % 8 ||
        t.getMemorySpace())
      continue;
    int end = lastUse(alloc.getResult(), block, pos);
    if (end < 0)
      continue;
    buffers.push_back({alloc, bytesOf(t), pos[alloc], end});
  }

  // Largest first; each at the lowest aligned offset that no buffer alive at
  // the same time occupies.
  std::vector<Buffer *> order;
  for (Buffer &b : buffers)
    order.push_back(&b);
  std::stable_sort(order.begin(), order.end(),
                   [](Buffer *a, Buffer *b) { return a->bytes > b->bytes; });
  std::vector<Buffer *> placed;
  for (Buffer *b : order) {
    std::vector<std::pair<int64_t, int64_t>> taken;
    for (Buffer *o : placed)
      if (o->start <= b->end && b->start <= o->end)
        taken.push_back({o->offset, o->offset + o->bytes});
    std::sort(taken.begin(), taken.end());
    int64_t offset = 0;
    for (auto [lo, hi] : taken) {
      if (offset + b->bytes <= lo)
        break;
      offset = std::max(offset, (hi + kAlign - 1) / kAlign * kAlign);
    }
    b->offset = offset;
    placed.push_back(b);
    plan.arenaBytes = std::max(plan.arenaBytes, offset + b->bytes);
    plan.naiveBytes += b->bytes;
  }
  plan.arenaBytes = std::max<int64_t>((plan.arenaBytes + kAlign - 1) / kAlign * kAlign, kAlign);
  plan.buffers = static_cast<int>(buffers.size());

  // The arena argument, then views into it.
  OpBuilder b(func.getContext());
  auto arenaType = MemRefType::get({plan.arenaBytes}, b.getI8Type());
  unsigned index = func.getNumArguments();
  func.insertArgument(index, arenaType,
                      b.getDictionaryAttr(b.getNamedAttr("nin.arena", b.getUnitAttr())),
                      func.getLoc());
  Value arena = func.getArgument(index);
  for (Buffer &buf : buffers) {
    b.setInsertionPoint(buf.alloc);
    Value offset = b.create<arith::ConstantIndexOp>(buf.alloc.getLoc(), buf.offset);
    Value view = b.create<memref::ViewOp>(buf.alloc.getLoc(), buf.alloc.getType(), arena, offset,
                                          ValueRange{});
    buf.alloc.replaceAllUsesWith(view);
    buf.alloc.erase();
  }
  func->setAttr("nin.arena_bytes", b.getI64IntegerAttr(plan.arenaBytes));
  return plan;
}

} // namespace ninc
