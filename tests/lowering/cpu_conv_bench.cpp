//===- tests/lowering/cpu_conv_bench.cpp - GFLOP/s of scheduled convs -----===//
//
// A quick timing program (not a test): compiles the NiN's heavy convolutions
// at batch 8 with the transform schedules and reports the best of several
// runs in GFLOP/s, with 1 and 2 threads.
//   cpu_conv_bench [out-dir] [runs]
//
//===----------------------------------------------------------------------===//
#include "tests/lowering/CpuTestHarness.h"
#include "tests/lowering/CpuTestModules.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

using namespace ninc;
using namespace ninc::cputest;

int main(int argc, char **argv) {
  if (argc > 1 && argv[1][0] == '-') {
    std::printf("usage: cpu_conv_bench [out-dir=/tmp/ninc-cpu-bench] [runs=10]\n"
                "GFLOP/s of the NiN's heavy convolutions as scheduled, 1 and 2 threads\n");
    return argv[1] == std::string("-h") || argv[1] == std::string("--help") ? 0 : 2;
  }
  std::string dir = argc > 1 ? argv[1] : "/tmp/ninc-cpu-bench";
  int runs = argc > 2 ? std::atoi(argv[2]) : 10;
  std::filesystem::create_directories(dir);
  std::vector<TestFunction> cases = {
      convBiasRelu("conv5x5_96_256_26", {8, 26, 26, 96, 256, 5, 1, 2}),
      convBiasRelu("conv3x3_256_384_12", {8, 12, 12, 256, 384, 3, 1, 1}),
      conv1x1AsMatmul("mm1x1_256_256_26", {8, 26, 26, 256, 256, 1, 1, 0}),
      convBiasRelu("conv1x1_256_256_26", {8, 26, 26, 256, 256, 1, 1, 0}),
      convBiasRelu("conv11x11s4_1_96_224", {8, 224, 224, 1, 96, 11, 4, 0}),
      // Block 1's 1x1 convolutions: in cache (batch 1) and streaming from
      // memory (batch 32, 36 MiB each way).
      convBiasRelu("conv1x1_96_96_54_b1", {1, 54, 54, 96, 96, 1, 1, 0}),
      convBiasRelu("conv1x1_96_96_54_b32", {32, 54, 54, 96, 96, 1, 1, 0}),
      conv1x1AsMatmul("mm1x1_96_96_54_b32", {32, 54, 54, 96, 96, 1, 1, 0}),
  };
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (const TestFunction &f : cases) {
    std::vector<std::vector<float>> buffers;
    for (const Shape &s : f.inputs)
      buffers.emplace_back(numElements(s));
    buffers.emplace_back(numElements(f.output));
    for (auto &b : buffers)
      for (float &v : b)
        v = dist(gen);
    std::vector<float *> args;
    for (auto &b : buffers)
      args.push_back(b.data());
    for (int threads : {1, 2}) {
      cpu::CpuOptions opts;
      opts.threads = threads;
      auto compiled = compileAndLoad(
          f.mlir, opts, dir + "/" + f.name + "_t" + std::to_string(threads));
      if (!compiled) {
        std::fprintf(stderr, "%s: %s\n", f.name.c_str(),
                     compiled.message().c_str());
        return 1;
      }
      double best = 1e30;
      for (int r = 0; r < runs; ++r) {
        auto start = std::chrono::steady_clock::now();
        if (Status s = (*compiled)->call(f.name, args); !s) {
          std::fprintf(stderr, "%s\n", s.message().c_str());
          return 1;
        }
        std::chrono::duration<double> t =
            std::chrono::steady_clock::now() - start;
        best = std::min(best, t.count());
      }
      std::printf("%-24s threads %d: %8.3f ms  %6.1f GFLOP/s\n", f.name.c_str(),
                  threads, best * 1e3, f.flops / best * 1e-9);
    }
  }
  return 0;
}
