//===- tests/lowering/CpuTestHarness.cpp - Compile, link, load, call ------===//
#include "tests/lowering/CpuTestHarness.h"
#include "compiler/codegen/common/Emit.h"
#include "compiler/target/TargetAttr.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

#include <atomic>
#include <cstdlib>
#include <dlfcn.h>
#include <fstream>
#include <functional>
#include <sstream>

#ifndef NINC_CC
#define NINC_CC "cc"
#endif
#ifndef NINC_OMP_LIBDIR
#define NINC_OMP_LIBDIR "/usr/lib/llvm-19/lib"
#endif

namespace {
std::atomic<int64_t> mallocs{0}, frees{0};
} // namespace

// The generated code's malloc / free, renamed by `cc -Wl,--wrap=...` when the
// shared library is linked; resolved against this executable (exported).
extern "C" void *__wrap_malloc(size_t size) {
  ++mallocs;
  return std::malloc(size);
}
extern "C" void __wrap_free(void *p) {
  if (p)
    ++frees;
  std::free(p);
}

namespace ninc::cputest {

int64_t generatedMallocs() { return mallocs.load(); }
int64_t generatedFrees() { return frees.load(); }

CompiledModule::~CompiledModule() {
  if (handle_)
    dlclose(handle_);
}

Status CompiledModule::call(const std::string &name,
                            const std::vector<float *> &a) const {
  void *symbol = dlsym(handle_, name.c_str());
  if (!symbol)
    return Error{"no symbol '" + name + "' in the compiled module"};
  using P = float *;
  switch (a.size()) {
  case 1:
    reinterpret_cast<void (*)(P)>(symbol)(a[0]);
    break;
  case 2:
    reinterpret_cast<void (*)(P, P)>(symbol)(a[0], a[1]);
    break;
  case 3:
    reinterpret_cast<void (*)(P, P, P)>(symbol)(a[0], a[1], a[2]);
    break;
  case 4:
    reinterpret_cast<void (*)(P, P, P, P)>(symbol)(a[0], a[1], a[2], a[3]);
    break;
  case 5:
    reinterpret_cast<void (*)(P, P, P, P, P)>(symbol)(a[0], a[1], a[2], a[3],
                                                      a[4]);
    break;
  case 6:
    reinterpret_cast<void (*)(P, P, P, P, P, P)>(symbol)(a[0], a[1], a[2], a[3],
                                                         a[4], a[5]);
    break;
  default:
    return Error{"unsupported argument count " + std::to_string(a.size())};
  }
  return Status::ok();
}

namespace {

/// Parses and lowers `mlir`, then hands the optimised LLVM module to `emit`.
Status compile(const std::string &mlir, const cpu::CpuOptions &opts,
               const std::function<Status(llvm::Module &, const codegen::MachineOptions &)> &emit) {
  mlir::DialectRegistry registry;
  cpu::registerCpuCodegenDialects(registry);
  mlir::MLIRContext context(registry);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(mlir, &context);
  if (!module)
    return Error{"the test module does not parse:\n" + mlir};
  if (Status s = cpu::lowerToLLVMDialect(*module, opts); !s)
    return s;
  Expected<Target> target = targetOf(*module);
  if (!target)
    return target.error();
  codegen::MachineOptions machine{target->cpu};
  llvm::LLVMContext llvmContext;
  auto llvmModule = codegen::translateToLLVMIR(*module, llvmContext, machine);
  if (!llvmModule)
    return llvmModule.error();
  return emit(**llvmModule, machine);
}

} // namespace

Expected<std::string> compileToAssembly(const std::string &mlir,
                                        const cpu::CpuOptions &opts,
                                        const std::string &path) {
  Status s = compile(mlir, opts, [&](llvm::Module &m, const codegen::MachineOptions &machine) {
    return codegen::emitAssembly(m, path, machine);
  });
  if (!s)
    return s.error();
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Expected<std::unique_ptr<CompiledModule>>
compileAndLoad(const std::string &mlir, const cpu::CpuOptions &opts,
               const std::string &stem) {
  std::string object = stem + ".o", library = stem + ".so";
  Status compiled = compile(mlir, opts, [&](llvm::Module &m, const codegen::MachineOptions &machine) {
    return codegen::emitObjectFile(m, object, machine);
  });
  if (!compiled)
    return compiled.error();
  // Only threaded code calls the OpenMP runtime (__kmpc_*).
  std::string link = std::string(NINC_CC) + " -shared -o '" + library + "' '" +
                     object + "' -Wl,--wrap=malloc -Wl,--wrap=free";
  if (opts.threads > 1)
    link += " -L" NINC_OMP_LIBDIR " -Wl,-rpath," NINC_OMP_LIBDIR " -lomp";
  if (std::system(link.c_str()) != 0)
    return Error{"linking failed: " + link};
  auto loaded = std::unique_ptr<CompiledModule>(new CompiledModule());
  loaded->handle_ = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!loaded->handle_)
    return Error{std::string("dlopen failed: ") + dlerror()};
  return Expected<std::unique_ptr<CompiledModule>>(std::move(loaded));
}

} // namespace ninc::cputest
