//===- runtime/support/Fault.h - Crash points for the crash tests -*- C++ -*-===//
//
// The crash-safety tests (tests/integration/crash_resume.sh) kill training at
// exact places: with NINC_FAULT=NAME:N in the environment, the N-th time the
// program reaches faultPoint("NAME") it dies of SIGKILL, as if the machine
// had lost power there. Without the variable (every real run) a point costs
// one cached getenv. The points: "step" (after a training step), "epoch"
// (an epoch done, before its checkpoint), "checkpoint-written" (both
// temporaries written), "checkpoint-state" (the state renamed, not yet the
// model), "checkpoint-committed" (both renamed, the previous pair not yet
// removed).
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_SUPPORT_FAULT_H
#define NINC_RUNTIME_SUPPORT_FAULT_H

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

namespace ninc::rt {

inline void faultPoint(const char *name) {
  static const char *spec = std::getenv("NINC_FAULT");
  if (!spec || !*spec)
    return;
  static long seen = 0;
  const char *colon = std::strrchr(spec, ':');
  if (!colon || std::string(spec, colon) != name)
    return;
  if (++seen == std::atol(colon + 1))
    std::raise(SIGKILL);
}

} // namespace ninc::rt

#endif // NINC_RUNTIME_SUPPORT_FAULT_H
