//===- compiler/codegen/common/MemoryPlan.cpp - Static activation arena ---------===//

#include "compiler/codegen/common/MemoryPlan.h"
#include "compiler/dialect/StageContract.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

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
  bool persistent = false; ///< Kept between calls: live throughout, placed first.
};

/// The position in `block` of the op (or its ancestor) that uses a value.
int positionIn(Block &block, Operation *user, const DenseMap<Operation *, int> &pos) {
  Operation *op = block.findAncestorOpInBlock(*user);
  return op ? pos.lookup(op) : -1;
}

/// Where a buffer is used, seen through views of it.
struct UseRange {
  int first = 0, last = -1;     ///< Top-level positions; last = -1: escapes the function.
  Operation *firstUser = nullptr; ///< The first op that touches it (not a view).
};

/// Nothing touches a buffer before its first use, so that is where its
/// lifetime starts (the alloc itself may have been hoisted).
UseRange useRange(Value root, Block &block, const DenseMap<Operation *, int> &pos) {
  UseRange r;
  r.last = pos.lookup(root.getDefiningOp());
  int first = INT32_MAX;
  SmallVector<Value> work{root};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      int p = positionIn(block, user, pos);
      if (isa<func::ReturnOp>(user) || p < 0)
        return {0, -1, nullptr};
      r.last = std::max(r.last, p);
      if (auto view = dyn_cast<ViewLikeOpInterface>(user); view && view.getViewSource() == v) {
        for (Value res : user->getResults())
          work.push_back(res);
      } else if (!isa<ViewLikeOpInterface>(user) && p < first) {
        first = p;
        r.firstUser = user;
      }
    }
  }
  r.first = first == INT32_MAX ? pos.lookup(root.getDefiningOp()) : first;
  return r;
}

int64_t bytesOf(MemRefType t) {
  return t.getNumElements() * int64_t(t.getElementTypeBitWidth() / 8);
}

/// "block1.1 (linalg.generic)": the layer of the buffer's location and the
/// first op that uses it.
std::string describe(memref::AllocOp alloc, Operation *firstUser) {
  std::string text;
  llvm::raw_string_ostream os(text);
  Location loc = alloc.getLoc();
  if (auto fused = dyn_cast<FusedLoc>(loc); fused && !fused.getLocations().empty())
    loc = fused.getLocations().front();
  if (auto name = dyn_cast<NameLoc>(loc))
    os << name.getName().getValue();
  else
    os << "-"; // not from one layer (the loss, the update)
  if (firstUser)
    os << " (" << firstUser->getName().getStringRef() << ")";
  return text;
}

} // namespace

ArenaPlan planActivationArena(func::FuncOp func) {
  ArenaPlan plan;
  if (func.isExternal()) // a declaration (e.g. the profile hook)
    return plan;
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
    UseRange use = useRange(alloc.getResult(), block, pos);
    if (use.last < 0)
      continue;
    bool persistent = alloc->hasAttr(attr::kPersistent);
    if (persistent) // its contents outlive the call: it is never shared
      use = {0, i, use.firstUser};
    buffers.push_back({alloc, bytesOf(t), use.first, use.last, -1, persistent});
    std::string what = describe(alloc, use.firstUser);
    if (persistent)
      what += ", kept between calls";
    plan.entries.push_back({what, bytesOf(t), 0, use.first, use.last});
  }

  // The persistent buffers first, in program order (the same offsets in
  // every compile of the function); then the largest first; each at the
  // lowest aligned offset that no buffer alive at the same time occupies.
  std::vector<Buffer *> order;
  for (Buffer &b : buffers)
    order.push_back(&b);
  std::stable_sort(order.begin(), order.end(), [](Buffer *a, Buffer *b) {
    if (a->persistent != b->persistent)
      return a->persistent;
    return !a->persistent && a->bytes > b->bytes;
  });
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
    if (b->persistent)
      plan.persistentBytes = std::max(plan.persistentBytes, offset + b->bytes);
    plan.arenaBytes = std::max(plan.arenaBytes, offset + b->bytes);
    plan.naiveBytes += b->bytes;
  }
  plan.arenaBytes = std::max<int64_t>((plan.arenaBytes + kAlign - 1) / kAlign * kAlign, kAlign);
  plan.buffers = static_cast<int>(buffers.size());
  for (size_t k = 0; k < buffers.size(); ++k)
    plan.entries[k].offset = buffers[k].offset;
  // The peak of the live bytes is at some buffer's start.
  for (const Buffer &at : buffers) {
    int64_t live = 0;
    for (const Buffer &o : buffers)
      if (o.start <= at.start && at.start <= o.end)
        live += o.bytes;
    if (live > plan.peakLiveBytes) {
      plan.peakLiveBytes = live;
      plan.peakPosition = at.start;
    }
  }

  // The arena argument (before a trailing repack flag), then views into it.
  OpBuilder b(func.getContext());
  auto arenaType = MemRefType::get({plan.arenaBytes}, b.getI8Type());
  unsigned index = func.getNumArguments();
  if (index > 0 && func.getArgAttr(index - 1, attr::kRepack))
    --index;
  func.insertArgument(index, arenaType,
                      b.getDictionaryAttr(b.getNamedAttr(attr::kArena, b.getUnitAttr())),
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
  func->setAttr(attr::kArenaBytes, b.getI64IntegerAttr(plan.arenaBytes));
  if (plan.persistentBytes > 0)
    func->setAttr(attr::kPersistentBytes, b.getI64IntegerAttr(plan.persistentBytes));
  return plan;
}

std::string formatArenaPlan(const std::string &function, const ArenaPlan &plan) {
  std::string text;
  llvm::raw_string_ostream os(text);
  auto mib = [](int64_t bytes) { return double(bytes) / (1024.0 * 1024.0); };
  os << llvm::format("memory plan of @%s: arena %.2f MiB for %d buffers (%.2f MiB without "
                     "reuse); at most %.2f MiB live at once, at op %d\n",
                     function.c_str(), mib(plan.arenaBytes), plan.buffers, mib(plan.naiveBytes),
                     mib(plan.peakLiveBytes), plan.peakPosition);
  if (plan.persistentBytes > 0)
    os << llvm::format("  the first %.2f MiB are kept between calls (packed weights)\n",
                       mib(plan.persistentBytes));
  os << "           KiB       offset       live ops  buffer\n";
  for (const ArenaEntry &e : plan.entries) {
    bool atPeak = e.start <= plan.peakPosition && plan.peakPosition <= e.end;
    os << llvm::format("  %-3s %10.1f %12lld %6d..%-6d  %s\n", atPeak ? "*" : "",
                       double(e.bytes) / 1024.0,
                       (long long)e.offset, e.start, e.end, e.what.c_str());
  }
  os << "  (* live at the peak)\n";
  return text;
}

void planModuleArenas(ModuleOp module, std::string *report) {
  int64_t arena = 0;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    ArenaPlan plan = planActivationArena(func);
    arena = std::max(arena, plan.arenaBytes);
    if (report)
      *report += formatArenaPlan(func.getName().str(), plan);
  }
  module->setAttr(attr::kArenaBytes, IntegerAttr::get(IntegerType::get(module.getContext(), 64),
                                                        arena));
}

} // namespace ninc
