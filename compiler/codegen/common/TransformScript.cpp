//===- compiler/codegen/common/TransformScript.cpp - Script text writer -----===//
#include "compiler/codegen/common/TransformScript.h"

#include "mlir/Dialect/Transform/IR/TransformOps.h"
#include "mlir/Dialect/Transform/Transforms/TransformInterpreterUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

namespace ninc::codegen {

std::string joinInts(llvm::ArrayRef<int64_t> values) {
  std::string out;
  for (auto [i, v] : llvm::enumerate(values))
    out += (i ? ", " : "") + std::to_string(v);
  return out;
}

std::string joinStrings(const std::vector<std::string> &values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i)
    out += (i ? ", " : "") + values[i];
  return out;
}

namespace {

constexpr const char *kAny = kAnyOp;

std::string anyOps(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i)
    out += std::string(i ? ", " : "") + kAny;
  return out;
}

size_t countLoops(llvm::ArrayRef<int64_t> sizes) {
  return llvm::count_if(sizes, [](int64_t s) { return s != 0; });
}

} // namespace

std::string TransformScript::fresh() { return "%h" + std::to_string(next_++); }

void TransformScript::line(const std::string &text) {
  body_ += "    " + text + "\n";
}

std::string TransformScript::match(int64_t tag, const std::string &in) {
  std::string h = fresh();
  line(llvm::formatv("{0} = transform.structured.match attributes{{{1} = {2} "
                     ": i64} in {3} : ({4}) -> {4}",
                     h, tagAttr_, tag, in, kAny));
  return h;
}

std::string TransformScript::matchFuncs(const std::string &in) {
  std::string h = fresh();
  line(llvm::formatv("{0} = transform.structured.match ops{{[\"func.func\"]} "
                     "in {1} : ({2}) -> {2}",
                     h, in, kAny));
  return h;
}

std::pair<std::string, std::string>
TransformScript::forall(const std::string &op, llvm::ArrayRef<int64_t> sizes) {
  std::string t = fresh(), f = fresh();
  line(llvm::formatv("{0}, {1} = transform.structured.tile_using_forall {2} "
                     "tile_sizes [{3}] : ({4}) -> ({4}, {4})",
                     t, f, op, joinInts(sizes), kAny));
  return {t, f};
}

std::string TransformScript::fuseInto(const std::string &producer,
                                      const std::string &loop) {
  return fuseIntoLoop(producer, loop).second;
}

std::pair<std::string, std::string> TransformScript::fuseIntoLoop(const std::string &producer,
                                                                  const std::string &loop) {
  std::string p = fresh(), l = fresh();
  line(llvm::formatv("{0}, {1} = transform.structured.fuse_into_containing_op "
                     "{2} into {3} : ({4}, {4}) -> ({4}, {4})",
                     p, l, producer, loop, kAny));
  return {p, l};
}

std::vector<std::string>
TransformScript::fuse(const std::string &op, llvm::ArrayRef<int64_t> sizes,
                      llvm::ArrayRef<int64_t> interchange) {
  size_t loops = countLoops(sizes);
  std::string t = fresh(), l = fresh();
  line(llvm::formatv("{0}, {1}:{2} = transform.structured.fuse {3} "
                     "{{tile_sizes = [{4}], tile_interchange = [{5}]} : ({6}) "
                     "-> ({6}, {7})",
                     t, l, loops, op, joinInts(sizes), joinInts(interchange),
                     kAny, anyOps(loops)));
  std::vector<std::string> result;
  for (size_t i = 0; i < loops; ++i)
    result.push_back(l + "#" + std::to_string(i));
  return result;
}

std::string TransformScript::tile(const std::string &op,
                                  llvm::ArrayRef<int64_t> sizes) {
  return tileLoops(op, sizes).first;
}

std::pair<std::string, std::vector<std::string>>
TransformScript::tileLoops(const std::string &op, llvm::ArrayRef<int64_t> sizes) {
  size_t loops = countLoops(sizes);
  if (loops == 0)
    return {op, {}};
  std::string t = fresh(), l = fresh();
  line(llvm::formatv("{0}, {1}:{2} = transform.structured.tile_using_for {3} "
                     "tile_sizes [{4}] : ({5}) -> ({5}, {6})",
                     t, l, loops, op, joinInts(sizes), kAny, anyOps(loops)));
  std::vector<std::string> result;
  for (size_t i = 0; i < loops; ++i)
    result.push_back(l + "#" + std::to_string(i));
  return {t, result};
}

void TransformScript::unroll(const std::string &loop, int64_t factor) {
  std::string c = fresh();
  line(llvm::formatv("{0} = transform.cast {1} : {2} to !transform.op<\"scf.for\">", c, loop,
                     kAny));
  line(llvm::formatv("transform.loop.unroll {0} {{factor = {1}} : !transform.op<\"scf.for\">", c,
                     factor));
}

void TransformScript::peel(const std::string &loop) {
  std::string c = fresh(), a = fresh(), b = fresh();
  line(llvm::formatv("{0} = transform.cast {1} : {2} to "
                     "!transform.op<\"scf.for\">",
                     c, loop, kAny));
  line(llvm::formatv("{0}, {1} = transform.loop.peel {2} : "
                     "(!transform.op<\"scf.for\">) -> ({3}, {3})",
                     a, b, c, kAny));
}

void TransformScript::decompose(const std::string &op) {
  line(llvm::formatv("{0} = transform.structured.decompose {1} : ({2}) -> {2}",
                     fresh(), op, kAny));
}

void TransformScript::canonicalize(const std::string &op) {
  line("transform.apply_patterns to " + op +
       " { transform.apply_patterns.canonicalization } : " + kAny);
}

void TransformScript::cse(const std::string &op) {
  line("transform.apply_cse to " + op + " : " + kAny);
}

std::string TransformScript::text(bool consumesRoot) const {
  return std::string("module attributes {transform.with_named_sequence} {\n"
                     "  transform.named_sequence @__transform_main(%root: "
                     "!transform.any_op {transform.") +
         (consumesRoot ? "consumed" : "readonly") + "}) {\n" + body_ +
         "    transform.yield\n  }\n}\n";
}

Status applyTransformScript(mlir::ModuleOp module, const std::string &script,
                            const std::string &what) {
  mlir::OwningOpRef<mlir::ModuleOp> library =
      mlir::parseSourceString<mlir::ModuleOp>(script, mlir::ParserConfig(module.getContext()));
  if (!library)
    return Error{"internal error: the generated " + what + " script does not parse"};
  auto entry = library->lookupSymbol<mlir::transform::NamedSequenceOp>("__transform_main");
  mlir::transform::TransformOptions options;
  options.enableExpensiveChecks(false);
  if (mlir::failed(mlir::transform::applyTransformNamedSequence(module, entry, *library, options)))
    return Error{"applying the " + what + " script failed"};
  return Status::ok();
}

} // namespace ninc::codegen
