//===- runtime/distributed/GradSync.cpp - ninc_grad_sync -------------------===//

#include "runtime/distributed/GradSync.h"

namespace {
/// The handler of this thread (the thread that calls the steps; the tests
/// run ranks as threads).
ninc::rt::GradSyncHandler &handler() {
  thread_local ninc::rt::GradSyncHandler h;
  return h;
}
} // namespace

extern "C" void ninc_grad_sync(float *grads, int64_t count) {
  if (const ninc::rt::GradSyncHandler &h = handler())
    h(grads, count);
}

namespace ninc::rt {

ScopedGradSync::ScopedGradSync(GradSyncHandler h) : previous_(std::move(handler())) {
  handler() = std::move(h);
}

ScopedGradSync::~ScopedGradSync() { handler() = std::move(previous_); }

} // namespace ninc::rt
