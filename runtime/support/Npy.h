//===- runtime/support/Npy.h - Reading and writing .npy files ----*- C++ -*-===//
//
// Logits and other results leave ninc as NumPy arrays (format version 1.0,
// little-endian float32, C order) so Python peers can compare them directly;
// inputs and datasets (runtime/data/Npz.cpp) come in as .npy.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_SUPPORT_NPY_H
#define NINC_RUNTIME_SUPPORT_NPY_H

#include "runtime/support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ninc {

/// An .npy array in memory: dtype ('<f4', '|u1', '<i8', ...), shape, and
/// a view of its C-order data.
struct NpyView {
  std::string descr;
  std::vector<int64_t> shape;
  const char *data = nullptr;
  size_t bytes = 0;
  int64_t numel() const;
};

/// Parses an .npy file's bytes (format 1.0-3.0, C order, little-endian);
/// `where` prefixes errors ("x.npz: error: 'x'"). The view points into `bytes`.
Expected<NpyView> parseNpy(const std::string &bytes, const std::string &where);

/// A float32 .npy file's values and shape; errors name the file.
Expected<std::vector<float>> readNpyFloats(const std::string &path, std::vector<int64_t> &shape);

/// Writes `data` (row-major, shape `shape`) to `path` as a float32 .npy file,
/// atomically (a temporary file renamed into place).
Status writeNpy(const std::string &path, const std::vector<int64_t> &shape, const float *data);

} // namespace ninc

#endif // NINC_RUNTIME_SUPPORT_NPY_H
