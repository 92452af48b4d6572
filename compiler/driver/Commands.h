//===- compiler/driver/Commands.h - The ninc subcommands ----------*- C++ -*-===//
//
// Each subcommand is a function from its parsed options to an exit code:
// 0 success, 1 invalid input (model, data, weights), 2 usage error.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_DRIVER_COMMANDS_H
#define NINC_COMPILER_DRIVER_COMMANDS_H

#include "runtime/support/Error.h"

#include <cstdint>
#include <string>

namespace ninc {


struct InspectOptions {
  std::string model;
  int64_t batch = 1;
  bool json = false;
  bool expand = false;  ///< One row per expanded layer (each conv of a NiN block).
};
int runInspect(const InspectOptions &opts);

struct ClassifyOptions {
  std::string model;
  std::string backend = "interp";
  std::string weights;   ///< Model file whose weights to use; default the model's own / seeded init.
  std::string dataDir;
  std::string split = "test";
  int64_t limit = 0;     ///< 0: all images of the split.
  int64_t batch = 32;
  int threads = 0;       ///< 0: OpenMP's default.
  std::string saveLogits; ///< Write the logits [N, classes] as .npy here.
  bool quiet = false;
};
int runClassify(const ClassifyOptions &opts);

struct CheckOptions {
  std::string model;
  std::string weights;
  std::string dataDir;
  int64_t images = 4;    ///< Test images (also the compiled batch).
  int threads = 2;
  double rtol = 1e-4, atol = 1e-5;
};
int runCheck(const CheckOptions &opts);

/// Prints "error: ..." messages of bad input consistently.
void printError(const std::string &message);

} // namespace ninc

#endif // NINC_COMPILER_DRIVER_COMMANDS_H
