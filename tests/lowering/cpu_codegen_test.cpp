//===- tests/lowering/cpu_codegen_test.cpp - CPU backend end to end -------===//
//
// Every case is compiled four ways (transform schedules on / off, 1 / 2
// threads), linked into a shared library, run on random inputs and compared
// with a naive C++ loop: max |diff| <= 1e-4 * max |ref| + 1e-5. The generated
// code must free every buffer it mallocs.
//
//===----------------------------------------------------------------------===//
#include "tests/lowering/CpuTestHarness.h"
#include "tests/lowering/CpuTestModules.h"
#include "compiler/target/Target.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <ostream>
#include <random>

namespace ninc::cputest {
namespace {

struct Variant {
  bool schedule;
  int threads;
};

void PrintTo(const Variant &v, std::ostream *os) {
  *os << (v.schedule ? "schedule" : "loops") << ", threads " << v.threads;
}

std::vector<TestFunction> allCases() {
  return {
      convBiasRelu("conv5x5_pad2", {4, 12, 12, 8, 16, 5, 1, 2}),
      conv1x1AsMatmul("conv1x1_matmul", {4, 6, 6, 16, 48, 1, 1, 0}),
      maxPool("maxpool3x3s2", {4, 13, 13, 16}, 3, 2),
      avgPool("sumpool_global5x5", {4, 5, 5, 10}, 5, 1),
      transposeToNchw("transpose_nchw", {2, 5, 6, 16}),
      ninBlock("nin_block", {2, 14, 14, 3, 16, 3, 1, 1}, 16),
      // The d2l NiN's convolutions at batch 2 (224x224 input).
      convBiasRelu("nin_conv11x11s4", {2, 224, 224, 1, 96, 11, 4, 0}),
      convBiasRelu("nin_conv1x1_54", {2, 54, 54, 96, 96, 1, 1, 0}),
      convBiasRelu("nin_conv5x5_26", {2, 26, 26, 96, 256, 5, 1, 2}),
      convBiasRelu("nin_conv3x3_12", {2, 12, 12, 256, 384, 3, 1, 1}),
      convBiasRelu("nin_conv3x3_5_to10", {2, 5, 5, 384, 10, 3, 1, 1}),
      // Awkward shapes: prime width (peeled W tiles), batch 1 and 3.
      convBiasRelu("conv_prime_width", {2, 29, 29, 8, 32, 3, 1, 1}),
      convBiasRelu("conv_batch1", {1, 12, 12, 8, 32, 3, 1, 1}),
      convBiasRelu("conv_batch3", {3, 10, 10, 16, 32, 3, 1, 1}),
      // Padding taps skipped at a stride of 2 and in a peeled remainder tile.
      convBiasRelu("conv_stride2_pad2", {2, 27, 27, 8, 32, 5, 2, 2}),
      // Short rows: 3 x 128 and 5 x 64 register tiles (weight-gradient shapes).
      convBiasRelu("conv_short_rows_128", {2, 5, 5, 16, 384, 3, 1, 0}),
      convBiasRelu("conv_short_rows_64", {2, 9, 9, 8, 256, 5, 1, 0}),
      // Long reductions in L2-sized blocks (the weight gradients' forms): a
      // 1.5 MiB filter strip swept 9 KH rows at a time, and K = 4096 in
      // blocks of 256.
      convAccumulate("conv_reduction_blocks", {1, 64, 64, 4, 64, 54, 1, 0}),
      matmulTransposeAAccumulate("matmul_ta_reduction_blocks", 96, 64, 4096),
  };
}

const TestFunction &findCase(const std::string &name) {
  static const std::vector<TestFunction> cases = allCases();
  return *std::find_if(cases.begin(), cases.end(),
                       [&](const TestFunction &f) { return f.name == name; });
}

std::vector<float> randomData(int64_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> data(n);
  for (float &v : data)
    v = dist(gen);
  return data;
}

/// Inputs and reference output of a case, computed once per process.
struct Expectation {
  std::vector<std::vector<float>> inputs;
  std::vector<float> output;
};

const Expectation &expectation(const TestFunction &f) {
  static std::map<std::string, Expectation> cache;
  auto it = cache.find(f.name);
  if (it != cache.end())
    return it->second;
  Expectation e;
  for (size_t i = 0; i < f.inputs.size(); ++i)
    e.inputs.push_back(randomData(numElements(f.inputs[i]), 17 + i));
  e.output = f.reference(e.inputs);
  return cache.emplace(f.name, std::move(e)).first->second;
}

class CpuCodegen
    : public ::testing::TestWithParam<std::tuple<std::string, Variant>> {};

TEST_P(CpuCodegen, MatchesNaiveReference) {
  const auto &[name, variant] = GetParam();
  const TestFunction &f = findCase(name);
  cpu::CpuOptions opts;
  opts.schedule = variant.schedule;
  opts.threads = variant.threads;
  std::filesystem::create_directories(NINC_TEST_OUT_DIR);
  std::string stem = std::string(NINC_TEST_OUT_DIR) + "/" + name +
                     (variant.schedule ? "_sched" : "_loops") + "_t" +
                     std::to_string(variant.threads);
  auto compiled = compileAndLoad(f.mlir, opts, stem);
  ASSERT_TRUE(compiled) << compiled.message();

  const Expectation &e = expectation(f);
  std::vector<std::vector<float>> inputs = e.inputs;
  std::vector<float> output(numElements(f.output), std::nanf(""));
  std::vector<float *> args;
  for (auto &in : inputs)
    args.push_back(in.data());
  args.push_back(output.data());
  int64_t mallocsBefore = generatedMallocs(), freesBefore = generatedFrees();
  Status called = (*compiled)->call(f.name, args);
  ASSERT_TRUE(called) << called.message();
  EXPECT_EQ(generatedMallocs() - mallocsBefore, generatedFrees() - freesBefore)
      << "the generated code leaks buffers";

  double maxRef = 0, maxDiff = 0;
  for (size_t i = 0; i < output.size(); ++i) {
    maxRef = std::max(maxRef, std::fabs(double(e.output[i])));
    double diff = std::fabs(double(output[i]) - e.output[i]);
    maxDiff = std::isnan(diff) ? INFINITY : std::max(maxDiff, diff);
  }
  EXPECT_LE(maxDiff, 1e-4 * maxRef + 1e-5) << "max |ref| = " << maxRef;
  for (size_t i = 0; i < inputs.size(); ++i)
    EXPECT_EQ(inputs[i], e.inputs[i]) << "input " << i << " was modified";
}

std::string outPath(const std::string &file) {
  std::filesystem::create_directories(NINC_TEST_OUT_DIR);
  return std::string(NINC_TEST_OUT_DIR) + "/" + file;
}

TEST(CpuCodegenApi, EmitsAvx512AssemblyForANamedCpu) {
  cpu::CpuOptions opts;
  opts.cpu = "skylake-avx512";
  opts.threads = 1;
  auto text = compileToAssembly(
      convBiasRelu("conv_asm", {1, 8, 8, 16, 32, 3, 1, 1}).mlir, opts,
      outPath("conv_asm_t1.s"));
  ASSERT_TRUE(text) << text.message();
  EXPECT_NE(text->find("vfmadd231ps"), std::string::npos);
  EXPECT_NE(text->find("zmm"), std::string::npos);
  EXPECT_EQ(text->find("__kmpc"), std::string::npos)
      << "threads = 1 must not need the OpenMP runtime";
}

TEST(CpuCodegenApi, TwoThreadsForkThroughOpenMP) {
  cpu::CpuOptions opts;
  opts.cpu = "skylake-avx512";
  opts.threads = 2;
  auto text = compileToAssembly(
      convBiasRelu("conv_asm", {2, 8, 8, 16, 32, 3, 1, 1}).mlir, opts,
      outPath("conv_asm_t2.s"));
  ASSERT_TRUE(text) << text.message();
  EXPECT_NE(text->find("__kmpc_fork_call"), std::string::npos);
}

TEST(CpuCodegenApi, RejectsZeroThreads) {
  cpu::CpuOptions opts;
  opts.threads = 0;
  auto text = compileToAssembly(
      convBiasRelu("conv_asm", {1, 8, 8, 16, 32, 3, 1, 1}).mlir, opts,
      outPath("conv_asm_t0.s"));
  ASSERT_FALSE(text);
  EXPECT_NE(text.message().find("threads >= 1"), std::string::npos)
      << text.message();
}

// --precision=bf16 (vdpbf16ps register tiles, Bf16.cpp): x and w are
// rounded to bf16 before the reference runs, so the compiled tiles (which
// round them again, idempotently) form the same exact products and only the
// order of the fp32 sums differs: max |diff| <= 1e-5 * max |ref| + 1e-5.
uint16_t toBf16Bits(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  bits += 0x7fff + ((bits >> 16) & 1); // round to nearest even
  return uint16_t(bits >> 16);
}

float roundBf16(float v) {
  uint32_t bits = uint32_t(toBf16Bits(v)) << 16;
  std::memcpy(&v, &bits, 4);
  return v;
}

std::vector<TestFunction> bf16Cases() {
  return {
      convBiasRelu("bf16_conv5x5_pad2", {4, 12, 12, 8, 16, 5, 1, 2}),
      conv1x1AsMatmul("bf16_conv1x1_matmul", {4, 6, 6, 16, 48, 1, 1, 0}),
      convBiasRelu("bf16_nin_conv3x3_12", {2, 12, 12, 256, 384, 3, 1, 1}),
      convBiasRelu("bf16_nin_conv1x1_54", {2, 54, 54, 96, 96, 1, 1, 0}),
      // A weight gradient's shape: 2 channels (images), a 6x6 "kernel".
      convBiasRelu("bf16_wgrad_like", {8, 8, 8, 2, 16, 6, 1, 0}),
      convBiasRelu("bf16_prime_width", {2, 29, 29, 8, 32, 3, 1, 1}),
      convBiasRelu("bf16_short_rows_128", {2, 5, 5, 16, 384, 3, 1, 0}),
      // Odd channels / 10 outputs: not eligible, computed in fp32.
      convBiasRelu("bf16_first_conv_c1", {2, 40, 40, 1, 16, 11, 4, 0}),
      convBiasRelu("bf16_to10", {2, 5, 5, 384, 10, 3, 1, 1}),
  };
}

class CpuCodegenBf16
    : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(CpuCodegenBf16, MatchesNaiveReferenceOnRoundedInputs) {
  const auto &[name, threads] = GetParam();
  std::vector<TestFunction> cases = bf16Cases();
  const TestFunction &f = *std::find_if(
      cases.begin(), cases.end(), [&](const TestFunction &c) { return c.name == name; });
  cpu::CpuOptions opts;
  opts.threads = threads;
  opts.bf16 = true;
  Expected<Target> host = makeTarget(TargetRequest{});
  if (!host || !host->cpu.has("avx512bf16"))
    GTEST_SKIP() << "this CPU has no AVX512-BF16";
  auto compiled = compileAndLoad(
      f.mlir, opts, outPath(name + "_t" + std::to_string(threads)));
  ASSERT_TRUE(compiled) << compiled.message();
  std::vector<std::vector<float>> inputs;
  for (size_t i = 0; i < f.inputs.size(); ++i) {
    inputs.push_back(randomData(numElements(f.inputs[i]), 17 + i));
    if (i < 2)
      for (float &v : inputs.back())
        v = roundBf16(v);
  }
  std::vector<float> expected = f.reference(inputs);
  std::vector<float> output(numElements(f.output), std::nanf(""));
  std::vector<float *> args;
  for (auto &in : inputs)
    args.push_back(in.data());
  args.push_back(output.data());
  Status called = (*compiled)->call(f.name, args);
  ASSERT_TRUE(called) << called.message();
  double maxRef = 0, maxDiff = 0;
  for (size_t i = 0; i < output.size(); ++i) {
    maxRef = std::max(maxRef, std::fabs(double(expected[i])));
    double diff = std::fabs(double(output[i]) - expected[i]);
    maxDiff = std::isnan(diff) ? INFINITY : std::max(maxDiff, diff);
  }
  EXPECT_LE(maxDiff, 1e-5 * maxRef + 1e-5) << "max |ref| = " << maxRef;
}

// The reduction-block cases above check the numbers; this checks that the
// blocks were chosen (a blocked schedule the report does not show would leave
// those cases testing the unblocked one).
// The blocks follow the Target's L2 (ninc's table for a named CPU).
std::string reductionBlockReport(const char *cpu) {
  cpu::CpuOptions opts;
  opts.threads = 2;
  opts.cpu = cpu;
  std::string report;
  opts.scheduleReport = &report;
  for (const char *name : {"conv_reduction_blocks", "matmul_ta_reduction_blocks"}) {
    auto text = compileToAssembly(findCase(name).mlir, opts,
                                  outPath(std::string(name) + "_" + cpu + ".s"));
    EXPECT_TRUE(text) << text.message();
  }
  return report;
}

TEST(CpuCodegenSchedule, LongReductionsRunInL2SizedBlocks) {
  // Zen 5, 1 MiB L2: KH = 54 of a 54x54x4x32 strip (1.5 MiB) in 9 rows
  // (166 KiB) a block; K = 4096 in blocks of 256.
  std::string report = reductionBlockReport("znver5");
  EXPECT_NE(report.find("reduction in blocks [0, 0, 0, 0, 9]"), std::string::npos) << report;
  EXPECT_NE(report.find("reduction in blocks [0, 0, 256]"), std::string::npos) << report;
  // Zen 3, 512 KiB L2 and AVX2: a strip of 16 columns (746 KiB) in blocks
  // of 9 rows (124 KiB) and K in blocks of 128.
  report = reductionBlockReport("znver3");
  EXPECT_NE(report.find("reduction in blocks [0, 0, 0, 0, 9]"), std::string::npos) << report;
  EXPECT_NE(report.find("tiles [1, 1, 6, 16]"), std::string::npos) << report;
  EXPECT_NE(report.find("reduction in blocks [0, 0, 128]"), std::string::npos) << report;
}

TEST(CpuCodegenBf16Api, EmitsVdpbf16ps) {
  cpu::CpuOptions opts;
  opts.threads = 1;
  opts.bf16 = true;
  opts.cpu = "sapphirerapids";
  auto text = compileToAssembly(
      convBiasRelu("bf16_asm", {1, 8, 8, 16, 32, 3, 1, 1}).mlir, opts,
      outPath("bf16_asm.s"));
  ASSERT_TRUE(text) << text.message();
  EXPECT_NE(text->find("vdpbf16ps"), std::string::npos);
  EXPECT_NE(text->find("vcvtneps2bf16"), std::string::npos);
}

TEST(CpuCodegenBf16Api, RefusesACpuWithoutAvx512Bf16) {
  cpu::CpuOptions opts;
  opts.threads = 1;
  opts.bf16 = true;
  opts.cpu = "skylake-avx512";
  auto text = compileToAssembly(
      convBiasRelu("bf16_skx", {1, 8, 8, 16, 32, 3, 1, 1}).mlir, opts,
      outPath("bf16_skx.s"));
  ASSERT_FALSE(text);
  EXPECT_NE(text.message().find("AVX512-BF16"), std::string::npos) << text.message();
  EXPECT_NE(text.message().find("skylake-avx512"), std::string::npos) << text.message();
}

std::vector<std::string> namesOf(const std::vector<TestFunction> &cases) {
  std::vector<std::string> names;
  for (const TestFunction &f : cases)
    names.push_back(f.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(
    Lowering, CpuCodegenBf16,
    ::testing::Combine(::testing::ValuesIn(namesOf(bf16Cases())), ::testing::Values(1, 2)),
    [](const ::testing::TestParamInfo<CpuCodegenBf16::ParamType> &info) {
      return std::get<0>(info.param) + "_t" + std::to_string(std::get<1>(info.param));
    });


INSTANTIATE_TEST_SUITE_P(
    Lowering, CpuCodegen,
    ::testing::Combine(::testing::ValuesIn(namesOf(allCases())),
                       ::testing::Values(Variant{true, 1}, Variant{true, 2},
                                         Variant{false, 1}, Variant{false, 2})),
    [](const ::testing::TestParamInfo<CpuCodegen::ParamType> &info) {
      const Variant &v = std::get<1>(info.param);
      return std::get<0>(info.param) + (v.schedule ? "_sched" : "_loops") +
             "_t" + std::to_string(v.threads);
    });

} // namespace
} // namespace ninc::cputest
