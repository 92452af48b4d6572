//===- compiler/pipeline/Link.cpp - Linking compiled programs -------------===//

#include "compiler/pipeline/Link.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include <cstdlib>
#include <vector>

namespace ninc {

namespace {

/// Where the runtime archives are: $NINC_RUNTIME_DIR, else the build tree
/// this ninc was built in.
std::string runtimeDir() {
  if (const char *env = std::getenv("NINC_RUNTIME_DIR"); env && *env)
    return env;
  return NINC_RUNTIME_DIR;
}

/// Runs the C++ driver on `inputs` (objects, archives, flags) into `output`.
Status link(llvm::ArrayRef<std::string> inputs, const std::string &output) {
  llvm::ErrorOr<std::string> cxx = llvm::sys::findProgramByName(NINC_CXX);
  if (!cxx)
    return Error{"ninc: error: cannot find the C++ compiler driver '" + std::string(NINC_CXX) +
                 "' to link with"};
  std::string tmp = output + ".tmp";
  llvm::SmallVector<llvm::StringRef> args = {*cxx, "-o", tmp};
  for (const std::string &in : inputs)
    args.push_back(in);
  for (const char *flag : {"-lz", "-L" NINC_OPENMP_DIR, "-lomp", "-Wl,-rpath," NINC_OPENMP_DIR,
                           "-lpthread"})
    args.push_back(flag);
  // The runtime of a sanitized ninc (-DNINC_SANITIZE) calls the sanitizers'
  // libraries: link them too.
  const std::string sanitize = std::string("-fsanitize=") + NINC_LINK_SANITIZE;
  if (*NINC_LINK_SANITIZE)
    args.push_back(sanitize);
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(*cxx, args, std::nullopt, {}, 0, 0, &message);
  if (rc != 0) {
    llvm::sys::fs::remove(tmp);
    return Error{output + ": error: linking failed (" +
                 (message.empty() ? "exit code " + std::to_string(rc) : message) + ")"};
  }
  if (std::error_code ec = llvm::sys::fs::rename(tmp, output)) {
    llvm::sys::fs::remove(tmp);
    return Error{output + ": error: cannot write output: " + ec.message()};
  }
  return Status::ok();
}

/// Path of a runtime archive, checked to exist.
Expected<std::string> runtimeArchive(const char *name) {
  std::string path = runtimeDir() + "/" + name;
  if (!llvm::sys::fs::exists(path))
    return Error{"ninc: error: runtime library " + path +
                 " not found (set NINC_RUNTIME_DIR to the build's runtime folder)"};
  return path;
}

} // namespace

Status linkExecutable(const std::vector<std::string> &objects, const std::string &output,
                      bool cuda, bool training) {
  Expected<std::string> program = runtimeArchive("libninc_program.a");
  Expected<std::string> runtime = runtimeArchive("libninc_runtime.a");
  if (!program || !runtime)
    return !program ? program.error() : runtime.error();
  std::vector<std::string> inputs(objects);
  inputs.push_back(*program);
  if (!cuda) {
    inputs.push_back(*runtime);
    return link(inputs, output);
  }
  // The CUDA glue loads the driver with dlopen: the program starts (and says
  // what is missing) on machines without one.
  Expected<std::string> glue = runtimeArchive("cuda/libninc_cuda.a");
  if (!glue)
    return glue.error();
  // main() refers to ninc_train_step weakly, which pulls nothing from an
  // archive: ask for the glue's definition.
  if (training)
    inputs.push_back("-Wl,--undefined=ninc_train_step");
  for (const std::string &in : {*glue, *runtime, std::string("-ldl")})
    inputs.push_back(in);
  return link(inputs, output);
}

Status linkSharedLibrary(const std::vector<std::string> &objects, const std::string &output) {
  Expected<std::string> capi = runtimeArchive("libninc_capi.a");
  Expected<std::string> runtime = runtimeArchive("libninc_runtime.a");
  if (!capi || !runtime)
    return !capi ? capi.error() : runtime.error();
  std::vector<std::string> inputs{"-shared"};
  inputs.insert(inputs.end(), objects.begin(), objects.end());
  for (const std::string &in :
       {std::string("-Wl,--whole-archive"), *capi, std::string("-Wl,--no-whole-archive"), *runtime})
    inputs.push_back(in);
  if (Status s = link(inputs, output); !s)
    return s;
  std::string header = llvm::sys::path::parent_path(output).str();
  header = (header.empty() ? std::string(".") : header) + "/ninc.h";
  if (std::error_code ec = llvm::sys::fs::copy_file(NINC_CAPI_HEADER, header))
    return Error{header + ": error: cannot write the C header: " + ec.message()};
  return Status::ok();
}

} // namespace ninc
