//===- runtime/program/DataOptions.h - Where a program's images come from -*- C++ -*-===//
//
// The data options `infer` and `train` share: Fashion-MNIST's IDX folder, a
// .npz or an image folder (runtime/data/Datasets.h), and per-channel
// normalisation.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_PROGRAM_DATAOPTIONS_H
#define NINC_RUNTIME_PROGRAM_DATAOPTIONS_H

#include "runtime/data/Datasets.h"
#include "runtime/program/Descriptor.h"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace ninc::rt {

/// Where a command's images come from and how they are normalised.
struct DataOptions {
  std::string dataDir;               ///< Fashion-MNIST IDX folder.
  std::vector<float> mean, stddev;   ///< Per channel; empty: none.

  /// The dataset at `path` (.npz or image folder), else Fashion-MNIST's
  /// `split` from dataDir; with the normalisation, checked against `d`.
  Expected<data::Dataset> load(const ModelDescriptor &d, const std::string &path,
                               data::Split split) const;

  /// --data-dir, --mean, --std.
  void addOptions(CLI::App *cmd);
};

/// "a, b, c": the class names of a dataset that has them (image folders).
std::string classList(const data::Dataset &ds);

} // namespace ninc::rt

#endif // NINC_RUNTIME_PROGRAM_DATAOPTIONS_H
