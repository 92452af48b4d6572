//===- runtime/support/Fault.h - Crash points for the crash tests -*- C++ -*-===//
//
// The crash-safety tests (tests/integration/crash_resume.sh) kill training at
// exact places: with NINC_FAULT=NAME:N in the environment, the N-th time the
// program reaches faultPoint("NAME") it dies of SIGKILL, as if the machine
// had lost power there (NAME:N:TERM or NAME:N:INT: it gets that signal
// instead, as from kill or Ctrl-C). Without the variable (every real run) a point costs
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
  // NAME:N[:TERM|:INT]: the signal, SIGKILL unless named.
  static long seen = 0;
  const char *colon = std::strchr(spec, ':');
  if (!colon || std::string(spec, colon) != name)
    return;
  char *end = nullptr;
  const long n = std::strtol(colon + 1, &end, 10);
  if (++seen != n)
    return;
  const std::string sig = end && *end == ':' ? end + 1 : "";
  std::raise(sig == "TERM" ? SIGTERM : sig == "INT" ? SIGINT : SIGKILL);
}

} // namespace ninc::rt

#endif // NINC_RUNTIME_SUPPORT_FAULT_H
