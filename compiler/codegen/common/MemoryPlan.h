//===- compiler/codegen/common/MemoryPlan.h - Static activation arena ---*- C++ -*-===//
//
// After bufferization every intermediate of a function is a `memref.alloc` at
// the top level of its body. The plan gives each a 64-byte aligned offset in
// one arena so that buffers whose lifetimes do not overlap share memory
// (greedy by size, first fit), replaces each alloc by a `memref.view` into a
// new last argument `%arena: memref<Bxi8>`, and records B as the function
// attribute `nin.arena_bytes`. The caller allocates the arena once, so a
// batch costs no allocation and no page faults. Allocations nested in loops
// (per-tile scratch) are left alone.
//
// An alloc marked `nin.persistent` (the CPU target's packed weights) keeps
// its contents from one call to the next: the persistent buffers come first,
// at fixed offsets from 0 that nothing else shares, and their bytes are
// recorded as `nin.persistent_bytes`. A function whose last argument is the
// `nin.repack` flag gets the arena just before it.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_CODEGEN_COMMON_MEMORYPLAN_H
#define NINC_COMPILER_CODEGEN_COMMON_MEMORYPLAN_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ninc {

/// One planned buffer: what made it, its size, where it lives and when.
struct ArenaEntry {
  std::string what;         ///< Layer name and the op that first writes it.
  int64_t bytes = 0;
  int64_t offset = 0;
  int start = 0, end = 0;   ///< Live range in top-level op positions.
};

struct ArenaPlan {
  int64_t arenaBytes = 0;   ///< Size of the arena argument.
  int64_t naiveBytes = 0;   ///< Sum of the planned buffers (no reuse).
  int buffers = 0;          ///< Allocations moved into the arena.
  int peakPosition = 0;     ///< An op position where the live bytes are largest.
  int64_t peakLiveBytes = 0;
  int64_t persistentBytes = 0; ///< The start of the arena kept between calls.
  std::vector<ArenaEntry> entries; ///< In program order.
};

/// Plans `func` in place (adds the arena argument even when nothing is
/// planned, so every function has the same ABI).
ArenaPlan planActivationArena(mlir::func::FuncOp func);

/// A table of the plan for people (`ninc compile --memory-plan`): every
/// buffer with its live range, the buffers live at the peak marked.
std::string formatArenaPlan(const std::string &function, const ArenaPlan &plan);

/// Plans every function of `module` with a body and records the largest
/// arena as the module attribute `nin.arena_bytes`; when `report` is set,
/// appends each function's table to it. Both backends call this.
void planModuleArenas(mlir::ModuleOp module, std::string *report);

} // namespace ninc

#endif // NINC_COMPILER_CODEGEN_COMMON_MEMORYPLAN_H
