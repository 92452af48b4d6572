//===- compiler/target/TargetAttr.cpp - The Target on the module ----------===//

#include "compiler/target/TargetAttr.h"
#include "compiler/dialect/StageContract.h"

#include "mlir/IR/Builders.h"

namespace ninc {
namespace {

/// Reads and writes one dictionary; each field of the Target is named once
/// in visit() below, for both directions.
class Fields {
public:
  explicit Fields(mlir::MLIRContext *ctx) : b_(ctx) {}
  explicit Fields(mlir::DictionaryAttr dict) : b_(dict.getContext()), dict_(dict) {}

  void field(const char *name, std::string &v) {
    io<mlir::StringAttr>(name, v, [&] { return b_.getStringAttr(v); },
                         [&](mlir::StringAttr a) { v = a.str(); });
  }
  void field(const char *name, int64_t &v) {
    io<mlir::IntegerAttr>(name, v, [&] { return b_.getI64IntegerAttr(v); },
                          [&](mlir::IntegerAttr a) { v = a.getInt(); });
  }
  void field(const char *name, bool &v) {
    io<mlir::BoolAttr>(name, v, [&] { return b_.getBoolAttr(v); },
                       [&](mlir::BoolAttr a) { v = a.getValue(); });
  }
  void field(const char *name, std::vector<std::string> &v) {
    auto write = [&] {
      llvm::SmallVector<llvm::StringRef> refs(v.begin(), v.end());
      return b_.getStrArrayAttr(refs);
    };
    io<mlir::ArrayAttr>(name, v, write, [&](mlir::ArrayAttr a) {
      v.clear();
      for (mlir::Attribute e : a)
        if (auto s = mlir::dyn_cast<mlir::StringAttr>(e))
          v.push_back(s.str());
    });
  }
  mlir::DictionaryAttr dict() { return dict_ ? dict_ : b_.getDictionaryAttr(entries_); }
  const std::string &error() const { return error_; }

private:
  /// Writing (no dictionary yet): adds `write()` under `name`; reading:
  /// hands the attribute of type AttrT under `name` to `read`.
  template <typename AttrT, typename T, typename Write, typename Read>
  void io(const char *name, T &, Write write, Read read) {
    if (!dict_) {
      entries_.push_back(b_.getNamedAttr(name, write()));
      return;
    }
    if (auto a = dict_.getAs<AttrT>(name))
      read(a);
    else
      missing(name);
  }
  void missing(const char *name) {
    if (error_.empty())
      error_ = std::string("internal error: ") + attr::kTarget + " lacks '" + name + "'";
  }

  mlir::Builder b_;
  mlir::DictionaryAttr dict_;
  llvm::SmallVector<mlir::NamedAttribute> entries_;
  std::string error_;
};

void visit(Fields &f, Target &t) {
  std::string kind = t.name();
  f.field("kind", kind);
  t.kind = kind == "cuda" ? Target::Kind::Cuda : Target::Kind::Cpu;
  CpuTarget &c = t.cpu;
  f.field("triple", c.triple);
  f.field("cpu", c.cpu);
  f.field("llvm_features", c.llvmFeatures);
  f.field("features", c.features);
  f.field("vector_bytes", c.vectorBytes);
  f.field("vector_registers", c.vectorRegisters);
  f.field("l1d_bytes", c.l1dBytes);
  f.field("l2_bytes", c.l2Bytes);
  f.field("l3_bytes_per_core", c.l3BytesPerCore);
  f.field("fma_units", c.fmaUnits);
  f.field("cache_source", c.cacheSource);
  if (!t.isCuda())
    return;
  if (!t.cuda)
    t.cuda.emplace();
  CudaTarget &g = *t.cuda;
  f.field("gpu_arch", g.arch);
  f.field("sm_version", g.smVersion);
  f.field("tensor_cores", g.tensorCoreKinds);
  f.field("shared_memory_per_block", g.sharedMemoryPerBlock);
  f.field("registers_per_block", g.registersPerBlock);
  f.field("max_threads_per_block", g.maxThreadsPerBlock);
  f.field("gpu_emulate", g.emulate);
  f.field("cuda_toolkit", g.toolkit);
}

} // namespace

mlir::DictionaryAttr targetToAttr(mlir::MLIRContext *ctx, const Target &target) {
  Fields f(ctx);
  Target copy = target;
  visit(f, copy);
  return f.dict();
}

Expected<Target> targetFromAttr(mlir::DictionaryAttr attr) {
  Fields f(attr);
  Target t;
  visit(f, t);
  if (!f.error().empty())
    return Error{f.error()};
  return t;
}

void attachTarget(mlir::ModuleOp module, const Target &target) {
  module->setAttr(attr::kTarget, targetToAttr(module.getContext(), target));
}

Expected<Target> targetOf(mlir::ModuleOp module) {
  auto dict = module->getAttrOfType<mlir::DictionaryAttr>(attr::kTarget);
  if (!dict)
    return Error{std::string("internal error: the module has no ") + attr::kTarget +
                 " attribute (run ninc-attach-target first)"};
  return targetFromAttr(dict);
}

} // namespace ninc
