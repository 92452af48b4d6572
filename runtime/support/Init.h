//===- runtime/support/Init.h - Seeded weight initialisation ------*- C++ -*-===//
//
// Xavier-uniform initialisation as MXNet's init.Xavier() (uniform, factor
// "avg"), shared by the reference interpreter and compiled programs so both
// start from bit-identical weights for a seed.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_SUPPORT_INIT_H
#define NINC_RUNTIME_SUPPORT_INIT_H

#include "runtime/support/Random.h"

#include <cmath>
#include <cstdint>

namespace ninc {

/// s = sqrt(magnitude / ((fanIn + fanOut) / 2)).
inline double xavierScale(int64_t fanIn, int64_t fanOut, double magnitude) {
  return std::sqrt(magnitude / (double(fanIn + fanOut) / 2.0));
}

/// Element j of parameter number p (canonical order) under `seed`:
/// -s + 2 s u, u uniform in [0, 1), computed in double.
inline double xavierValue(uint64_t seed, uint64_t p, uint64_t j, double s) {
  return -s + 2.0 * s * double(randomUniform01(seed, kStreamInit + p, j));
}

} // namespace ninc

#endif // NINC_RUNTIME_SUPPORT_INIT_H
