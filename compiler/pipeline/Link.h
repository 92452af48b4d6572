//===- compiler/pipeline/Link.h - Linking compiled programs -------*- C++ -*-===//
//
// A compiled program is the generated object + the runtime archives
// (ninc_program: main(); ninc_runtime: data, weights, descriptor) + zlib and,
// for threaded code, LLVM's OpenMP runtime. The system C++ compiler driver
// links them (as clang drives the system linker).
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_PIPELINE_LINK_H
#define NINC_COMPILER_PIPELINE_LINK_H

#include "runtime/support/Error.h"

#include <string>
#include <vector>

namespace ninc {

/// Links `object` into the executable `output` (written atomically).
/// `cuda`: a --target=cuda program (runtime/cuda, -ldl); `training`: it has
/// a training step (the CUDA glue's ninc_train_step is linked in).
Status linkExecutable(const std::vector<std::string> &objects, const std::string &output, bool cuda = false,
                      bool training = false);

/// Links `objects` into the shared library `output` behind the C API of
/// runtime/include/ninc.h, and copies that header next to it.
Status linkSharedLibrary(const std::vector<std::string> &objects, const std::string &output);

} // namespace ninc

#endif // NINC_COMPILER_PIPELINE_LINK_H
