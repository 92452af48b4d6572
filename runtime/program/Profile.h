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
};

/// Runs `threads` threads of FMA chains for about `seconds`.
FmaPeak measureFmaPeak(int threads, double seconds = 0.3);

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
