//===- compiler/pipeline/Link.cpp - Linking compiled programs -------------===//

#include "compiler/pipeline/Link.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"

#include <cstdlib>

namespace ninc {

namespace {

/// Where the runtime archives are: $NINC_RUNTIME_DIR, else the build tree
/// this ninc was built in.
std::string runtimeDir() {
  if (const char *env = std::getenv("NINC_RUNTIME_DIR"); env && *env)
    return env;
  return NINC_RUNTIME_DIR;
}

} // namespace

Status linkExecutable(const std::string &object, const std::string &output) {
  llvm::ErrorOr<std::string> cxx = llvm::sys::findProgramByName(NINC_CXX);
  if (!cxx)
    return Error{"ninc: error: cannot find the C++ compiler driver '" + std::string(NINC_CXX) +
                 "' to link with"};
  std::string dir = runtimeDir();
  for (const char *lib : {"libninc_program.a", "libninc_runtime.a"})
    if (!llvm::sys::fs::exists(dir + "/" + lib))
      return Error{"ninc: error: runtime library " + dir + "/" + lib +
                   " not found (set NINC_RUNTIME_DIR to the build's runtime folder)"};
  std::string tmp = output + ".tmp";
  std::string program = dir + "/libninc_program.a", runtime = dir + "/libninc_runtime.a";
  llvm::SmallVector<llvm::StringRef> args = {*cxx, "-o", tmp, object, program, runtime,
                                             "-lz", "-L" NINC_OPENMP_DIR, "-lomp",
                                             "-Wl,-rpath," NINC_OPENMP_DIR, "-lpthread"};
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

} // namespace ninc
