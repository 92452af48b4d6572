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

namespace ninc::rt {

/// 64-byte aligned bytes; data() is null if the allocation failed.
class Arena {
public:
  explicit Arena(int64_t bytes)
      : data_(static_cast<uint8_t *>(std::aligned_alloc(64, size_t((bytes + 63) / 64 * 64 + 64)))) {}
  ~Arena() { std::free(data_); }
  Arena(const Arena &) = delete;
  Arena &operator=(const Arena &) = delete;
  uint8_t *data() const { return data_; }

private:
  uint8_t *data_;
};

} // namespace ninc::rt

#endif // NINC_RUNTIME_PROGRAM_ARENA_H
