//===- compiler/codegen/common/TransformScript.h - Script writer --*- C++ -*-===//
//
// Writes transform-dialect scripts as text, one op per call, with fresh
// handle names: the schedules stay readable as the IR they produce, and the
// text is parsed and run in-process by the transform interpreter.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_CODEGEN_COMMON_TRANSFORMSCRIPT_H
#define NINC_COMPILER_CODEGEN_COMMON_TRANSFORMSCRIPT_H

#include "runtime/support/Error.h"

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mlir {
class ModuleOp;
}

namespace ninc::codegen {

/// The type of every handle in a script.
constexpr const char *kAnyOp = "!transform.any_op";

/// "1, 2, 3" / "a, b, c": lists as transform ops print them.
std::string joinInts(llvm::ArrayRef<int64_t> values);
std::string joinStrings(const std::vector<std::string> &values);

/// `@__transform_main(%root)` under construction. Every handle is
/// `!transform.any_op`; `%root` is the payload module (consumed by the
/// bufferization at the end of a script).
class TransformScript {
public:
  /// `tagAttr`: the integer attribute match() looks for on the payload ops.
  explicit TransformScript(std::string tagAttr) : tagAttr_(std::move(tagAttr)) {}

  /// A fresh handle name.
  std::string fresh();
  /// Appends one line of script text.
  void line(const std::string &text);

  /// The ops tagged `<tagAttr> = tag` inside `in`.
  std::string match(int64_t tag, const std::string &in);
  /// The func.func ops inside `in`.
  std::string matchFuncs(const std::string &in);
  /// tile_using_forall; returns {tiled op, forall}.
  std::pair<std::string, std::string> forall(const std::string &op,
                                             llvm::ArrayRef<int64_t> sizes);
  /// fuse_into_containing_op; returns the new containing op.
  std::string fuseInto(const std::string &producer, const std::string &loop);
  /// The same; returns {the fused producer, the new containing op}.
  std::pair<std::string, std::string> fuseIntoLoop(const std::string &producer,
                                                   const std::string &loop);
  /// structured.fuse (tiling + greedy producer fusion); returns the loops in
  /// the interchanged order, outermost first.
  std::vector<std::string> fuse(const std::string &op,
                                llvm::ArrayRef<int64_t> sizes,
                                llvm::ArrayRef<int64_t> interchange);
  /// tile_using_for; returns the tiled op (`op` itself when nothing tiles).
  std::string tile(const std::string &op, llvm::ArrayRef<int64_t> sizes);
  /// tile_using_for; returns the tiled op and the loops, outermost first.
  std::pair<std::string, std::vector<std::string>> tileLoops(const std::string &op,
                                                             llvm::ArrayRef<int64_t> sizes);
  /// loop.peel of an scf.for handle.
  void peel(const std::string &loop);
  /// loop.unroll of an scf.for handle by `factor` (its trip count: fully).
  void unroll(const std::string &loop, int64_t factor);
  /// structured.decompose (2-D conv / pooling -> 1-D).
  void decompose(const std::string &op);
  void canonicalize(const std::string &op);
  void cse(const std::string &op);

  /// The whole script module; `consumesRoot` when a transform in it (the
  /// bufferization) consumes the %root handle.
  std::string text(bool consumesRoot) const;

private:
  std::string tagAttr_;
  std::string body_;
  int next_ = 0;
};

/// Parses `script` (a module holding @__transform_main) and applies it to
/// `module` with the transform interpreter; `what` names it in errors.
/// Diagnostics go to the context's handlers.
Status applyTransformScript(mlir::ModuleOp module, const std::string &script,
                            const std::string &what);

} // namespace ninc::codegen

#endif // NINC_COMPILER_CODEGEN_COMMON_TRANSFORMSCRIPT_H
