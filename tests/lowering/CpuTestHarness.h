//===- tests/lowering/CpuTestHarness.h - Compile, load, call ----*- C++ -*-===//
//
// Runs the CPU backend on MLIR text, links the object into a shared library
// with the system `cc` (plus libomp), dlopens it and calls the function with
// the bare-pointer ABI. malloc/free inside the generated code are counted
// (the library is linked with --wrap=malloc,--wrap=free), so tests can check
// that every intermediate buffer is freed.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_TESTS_LOWERING_CPUTESTHARNESS_H
#define NINC_TESTS_LOWERING_CPUTESTHARNESS_H

#include "compiler/codegen/cpu/CpuCodegen.h"
#include "runtime/support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ninc::cputest {

/// A loaded shared library holding one compiled module.
class CompiledModule {
public:
  ~CompiledModule();
  /// Calls `name(args[0], ..., args[n-1])`; up to 8 pointer arguments.
  Status call(const std::string &name, const std::vector<float *> &args) const;

private:
  friend Expected<std::unique_ptr<CompiledModule>>
  compileAndLoad(const std::string &mlir, const cpu::CpuOptions &opts,
                 const std::string &stem);
  void *handle_ = nullptr;
};

/// Compiles `mlir` with `opts` to `<stem>.o`, links `<stem>.so` and loads it.
/// `stem` is a path prefix in a writable folder.
Expected<std::unique_ptr<CompiledModule>>
compileAndLoad(const std::string &mlir, const cpu::CpuOptions &opts,
               const std::string &stem);

/// Compiles `mlir` with `opts` to target assembly at `path` (--emit=asm) and
/// returns its text.
Expected<std::string> compileToAssembly(const std::string &mlir,
                                        const cpu::CpuOptions &opts,
                                        const std::string &path);

/// malloc / free calls made by generated code so far.
int64_t generatedMallocs();
int64_t generatedFrees();

} // namespace ninc::cputest

#endif // NINC_TESTS_LOWERING_CPUTESTHARNESS_H
