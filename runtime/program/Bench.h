//===- runtime/program/Bench.h - `out/nin bench [--profile]` -*- C++ -*-===//
#ifndef NINC_RUNTIME_PROGRAM_BENCH_H
#define NINC_RUNTIME_PROGRAM_BENCH_H

#include "runtime/program/Descriptor.h"

#include <string>

namespace ninc::rt {

/// Times one batch of inference or one training step (`mode` "infer" or
/// "train", synthetic data), median of `iters` after `warmup`; with
/// `profile`, also each instrumented region (cpu/Profile.cpp) against the
/// machine's FMA peak, and with `profileOut` its table for --autotune; with
/// `peak`, the whole call's GFLOP/s at the median against the higher of two
/// FMA peaks measured before and after the timed runs.
/// Returns the exit code.
int runBench(const ModelDescriptor &d, const std::string &mode, int iters, int warmup,
             bool profile, const std::string &profileOut, bool peak = false);

} // namespace ninc::rt

#endif // NINC_RUNTIME_PROGRAM_BENCH_H
