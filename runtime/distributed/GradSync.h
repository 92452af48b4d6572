//===- runtime/distributed/GradSync.h - The training step's gradient call-out -*- C++ -*-===//
//
// A CPU training step calls `ninc_grad_sync(grads, count)` between its
// backward and its update, with every gradient in the weights' layout
// (compiler/conversion/NinToLinalgTrain.h, LinalgForms::gradSync); what the
// call leaves in `grads` is what the update applies. The runtime defines
// it: with no handler installed (one process) it returns at once; the
// data-parallel trainer installs one that averages the gradients across
// the ranks.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_DISTRIBUTED_GRADSYNC_H
#define NINC_RUNTIME_DISTRIBUTED_GRADSYNC_H

#include <cstdint>
#include <functional>

extern "C" void ninc_grad_sync(float *grads, int64_t count);

namespace ninc::rt {

using GradSyncHandler = std::function<void(float *grads, int64_t count)>;

/// Installs `handler` for the scope of this object (the previous one after).
class ScopedGradSync {
public:
  explicit ScopedGradSync(GradSyncHandler handler);
  ~ScopedGradSync();
  ScopedGradSync(const ScopedGradSync &) = delete;
  ScopedGradSync &operator=(const ScopedGradSync &) = delete;

private:
  GradSyncHandler previous_;
};

} // namespace ninc::rt

#endif // NINC_RUNTIME_DISTRIBUTED_GRADSYNC_H
