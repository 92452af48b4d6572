//===- runtime/program/Profile.h - FMA peak and per-op profile -*- C++ -*-===//
//
// What `out/nin bench --profile` prints: this machine's fp32 FMA peak,
// measured at start-up (every thread the generated code uses running
// independent FMA chains at the widest vector width the CPU has), and the
// time of each region the compiler instrumented (compiler/codegen/cpu/
// Profile.cpp: ninc_prof_cycles, ninc_prof_enabled, ninc_profile_table in
// the generated object), with its GFLOP/s and share of that peak.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_PROGRAM_PROFILE_H
#define NINC_RUNTIME_PROGRAM_PROFILE_H

#include <cstdint>
#include <string>
#include <vector>

namespace ninc::rt {

struct FmaPeak {
  double gflops = 0;    ///< fp32 GFLOP/s, all threads (2 FLOPs per FMA lane)
  int threads = 1;
  std::string isa;      ///< "AVX-512", "AVX2+FMA" or "scalar"
  /// Set when the code's ISA is narrower than the machine's widest.
  bool capped = false;
};

/// The widest fp32 FMA vector (bits) code compiled for the ISA extensions
/// `isa` (ModelDescriptor::isa) uses: 512 with avx512f, 256 with avx2 and
/// fma, else 0 (scalar); 0 also for an empty list (an older descriptor:
/// then the widest this machine has).
int vectorBitsOf(const std::vector<std::string> &isa);

/// Runs `threads` threads of FMA chains for about `seconds`, at the widest
/// vector width this machine has, or at most `vectorBits` when given (> 0):
/// the peak of the ISA the code was compiled for (AVX2 code on an AVX-512
/// machine: the AVX2 peak).
FmaPeak measureFmaPeak(int threads, int vectorBits = 0, double seconds = 0.3);

/// One instrumented region of the generated code.
struct ProfileRegion {
  int64_t id = 0;
  std::string function, name;
  int64_t flops = 0;    ///< nominal FLOPs per call
};

/// Parses ninc_profile_table ("id\tfunction\tflops\tname" lines).
std::vector<ProfileRegion> parseProfileTable(const char *table);

} // namespace ninc::rt

#endif // NINC_RUNTIME_PROGRAM_PROFILE_H
