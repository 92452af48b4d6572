//===- runtime/support/Random.h - Counter-based random numbers ----*- C++ -*-===//
//
// Every random number ninc uses (weight initialisation, dropout masks, data
// shuffling) is a pure function of (seed, stream, counter): no hidden state, so
// the interpreter, compiled CPU code and GPU kernels can all produce the same
// numbers in any order and on any number of threads. The mixer is SplitMix64's
// finaliser (Steele et al., 2014), cheap to emit in generated code: only
// 64-bit multiply, xor and shift.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_SUPPORT_RANDOM_H
#define NINC_RUNTIME_SUPPORT_RANDOM_H

#include <cstdint>

namespace ninc {

/// SplitMix64 finaliser: a bijective 64-bit mixer.
inline uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// The random 64-bit word number `counter` of stream `stream` under `seed`.
inline uint64_t randomBits(uint64_t seed, uint64_t stream, uint64_t counter) {
  return mix64(mix64(seed ^ mix64(stream)) ^ counter);
}

/// A uniform float in [0, 1) with 24 random bits (exactly representable).
inline float randomUniform01(uint64_t seed, uint64_t stream, uint64_t counter) {
  return static_cast<float>(randomBits(seed, stream, counter) >> 40) *
         (1.0f / 16777216.0f);
}

/// Streams: disjoint uses of one seed never share random numbers.
enum RandomStream : uint64_t {
  kStreamInit = 1ull << 32,     // + parameter index: weight initialisation
  kStreamDropout = 2ull << 32,  // + layer index, counter = step * 2^40 + element
  kStreamShuffle = 3ull << 32,  // + epoch: data order
};

/// A sequential generator over one stream, for host-side loops (shuffling).
class CounterRng {
public:
  CounterRng(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}
  uint64_t next() { return randomBits(seed_, stream_, counter_++); }
  /// Uniform integer in [0, n) for n > 0 (Lemire's multiply-shift, unbiased
  /// enough for shuffling: bias < n / 2^64).
  uint64_t below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

private:
  uint64_t seed_, stream_, counter_ = 0;
};

} // namespace ninc

#endif // NINC_RUNTIME_SUPPORT_RANDOM_H
