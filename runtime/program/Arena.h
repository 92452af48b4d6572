//===- runtime/program/Arena.h - The scratch arena of a compiled model -*- C++ -*-===//
//
// Generated code keeps its intermediates in one caller-provided arena
// (descriptor: `arena BYTES`), allocated once and reused by every batch.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_PROGRAM_ARENA_H
#define NINC_RUNTIME_PROGRAM_ARENA_H

#include "runtime/program/Descriptor.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <string>
#if defined(__linux__)
#include <sys/mman.h>
#include <sys/resource.h>
#endif

namespace ninc::rt {

/// Bytes this process can still get: the kernel's MemAvailable, and under
/// an address-space limit (ulimit -v) what is left of it; `why` says which
/// bound it is. -1 when unknown (not Linux).
inline int64_t availableMemory(std::string &why) {
  int64_t available = -1;
#if defined(__linux__)
  auto field = [](const char *file, const std::string &key) -> int64_t {
    std::ifstream in(file);
    std::string k;
    int64_t kib;
    while (in >> k) {
      if (k == key && in >> kib)
        return kib * 1024;
      in.ignore(1 << 20, '\n');
    }
    return -1;
  };
  available = field("/proc/meminfo", "MemAvailable:");
  why = "available memory";
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    const int64_t used = field("/proc/self/status", "VmSize:");
    const int64_t left = int64_t(limit.rlim_cur) - (used > 0 ? used : 0);
    if (available < 0 || left < available) {
      available = left > 0 ? left : 0;
      why = "left under the address-space limit (ulimit -v)";
    }
  }
#endif
  return available;
}

/// "" when `bytes` (what a command is about to allocate for `what`) fits
/// in availableMemory(), else an error naming both sizes: a model too large
/// for the machine is refused at start-up, not by the kernel's OOM killer.
inline std::string memoryProblem(int64_t bytes, const std::string &what) {
  std::string why;
  const int64_t available = availableMemory(why);
  if (available < 0 || bytes <= available)
    return "";
  char text[256];
  std::snprintf(text, sizeof text, "error: %s needs %.1f MiB; this machine has %.1f MiB %s",
                what.c_str(), double(bytes) / (1 << 20), double(available) / (1 << 20),
                why.c_str());
  return text;
}

/// memoryProblem for model `d` at its batch (`role`: what of it, e.g.
/// " (training)"), with the way out: the one message infer, run, train and
/// bench give.
inline std::string modelMemoryProblem(const ModelDescriptor &d, int64_t bytes,
                                      const std::string &role) {
  std::string p = memoryProblem(bytes, "model '" + d.model + "' at batch " +
                                           std::to_string(d.batch) + role);
  return p.empty() ? p : p + " (recompile with a smaller --batch)";
}

/// 64-byte aligned bytes; data() is null if the allocation failed. An arena
/// of 2 MiB or more is 2 MiB aligned and asks Linux for transparent huge
/// pages (madvise: THP's default mode only gives them to regions that ask).
/// The training step streams ~1 GB through it; 4 KiB pages cost the
/// memory-bound ops a TLB miss every 4 KiB.
class Arena {
public:
  explicit Arena(int64_t bytes) {
    constexpr size_t kHuge = size_t(2) << 20;
    size_t n = size_t((bytes + 63) / 64 * 64 + 64);
    if (n < kHuge) {
      data_ = static_cast<uint8_t *>(std::aligned_alloc(64, n));
      return;
    }
    n = (n + kHuge - 1) / kHuge * kHuge;
    data_ = static_cast<uint8_t *>(std::aligned_alloc(kHuge, n));
#ifdef MADV_HUGEPAGE
    if (data_)
      (void)madvise(data_, n, MADV_HUGEPAGE); // a hint: 4 KiB pages otherwise
#endif
  }
  ~Arena() { std::free(data_); }
  Arena(const Arena &) = delete;
  Arena &operator=(const Arena &) = delete;
  uint8_t *data() const { return data_; }

private:
  uint8_t *data_ = nullptr;
};

} // namespace ninc::rt

#endif // NINC_RUNTIME_PROGRAM_ARENA_H
