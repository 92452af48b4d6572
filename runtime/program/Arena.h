//===- runtime/program/Arena.h - The scratch arena of a compiled model -*- C++ -*-===//
//
// Generated code keeps its intermediates in one caller-provided arena
// (descriptor: `arena BYTES`), allocated once and reused by every batch.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_PROGRAM_ARENA_H
#define NINC_RUNTIME_PROGRAM_ARENA_H

#include <cstdint>
#include <cstdlib>
#include <new>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace ninc::rt {

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
