//===- runtime/support/Labels.h - The label of a row that does not count -*- C++ -*-===//
//
// Shared by the training loop (runtime/program/Train.cpp), the compiled
// step (compiler/conversion/NinToLinalgLoss.cpp: any label < 0) and the
// reference interpreter, which must agree on it.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_SUPPORT_LABELS_H
#define NINC_RUNTIME_SUPPORT_LABELS_H

#include <cstdint>

namespace ninc {

/// The label of a padded row of an epoch's short last batch: it adds
/// nothing to the loss or the gradients, and the loss is the mean over the
/// other rows (PyTorch's ignore_index); an all-padding batch has loss and
/// gradients 0.
inline constexpr int32_t kIgnoreLabel = -1;

} // namespace ninc

#endif // NINC_RUNTIME_SUPPORT_LABELS_H
