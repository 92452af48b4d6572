//===- compiler/driver/Commands.h - The ninc subcommands ----------*- C++ -*-===//
//
// Each subcommand is a function from its parsed options to an exit code:
// 0 success, 1 invalid input (model, data, weights), 2 usage error (ExitCode).
// Their errors go through printError (compiler/frontend/Frontend.h).
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_DRIVER_COMMANDS_H
#define NINC_COMPILER_DRIVER_COMMANDS_H

#include "runtime/support/Error.h"

#include <cstdint>
#include <string>

namespace ninc {

/// `ninc inspect`: the shape, parameter, FLOP and memory table of a model.
struct InspectOptions {
  std::string model;
  int64_t batch = 1;
  bool json = false;
  bool expand = false;  ///< One row per expanded layer (each conv of a NiN block).
};
/// Prints the table (text or JSON); the exit code.
int runInspect(const InspectOptions &opts);

/// `ninc run`: classify Fashion-MNIST images and print the accuracy.
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
  std::string input;     ///< Raw float32 inputs [N, C, H, W] (.npy) instead of images.
  bool quiet = false;
};
/// Classifies and prints the accuracy; the exit code.
int runClassify(const ClassifyOptions &opts);

/// `ninc check`: every layer of the compiled model against the interpreter.
struct CheckOptions {
  std::string model;
  std::string weights;
  std::string dataDir;
  int64_t images = 4;    ///< Test images (also the compiled batch).
  int threads = 2;
  double rtol = 1e-4, atol = 1e-5;
};
/// Compares layer by layer and names the first beyond tolerance; the exit
/// code.
int runCheck(const CheckOptions &opts);

} // namespace ninc

#endif // NINC_COMPILER_DRIVER_COMMANDS_H
