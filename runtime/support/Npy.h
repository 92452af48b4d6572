//===- runtime/support/Npy.h - Writing NumPy .npy files -----------*- C++ -*-===//
//
// Logits and other results leave ninc as NumPy arrays (format version 1.0,
// little-endian float32, C order) so Python peers can compare them directly.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_SUPPORT_NPY_H
#define NINC_RUNTIME_SUPPORT_NPY_H

#include "runtime/support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ninc {

/// Writes `data` (row-major, shape `shape`) to `path` as a float32 .npy file,
/// atomically (a temporary file renamed into place).
Status writeNpy(const std::string &path, const std::vector<int64_t> &shape, const float *data);

} // namespace ninc

#endif // NINC_RUNTIME_SUPPORT_NPY_H
