//===- tests/lowering/TileSizesTest.cpp - Register tiles from the Target ---===//
//
// The register tiles and cache blocks scheduleParamsFor derives from a
// CpuTarget: the AVX-512 figures measured on Zen 5 / Xeon, and AVX2's.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cpu/CpuInternal.h"

#include <gtest/gtest.h>

namespace ninc::cpu::detail {
namespace {

constexpr int64_t KiB = 1024;

/// The parameters of a CPU with `vectorBytes`-wide registers, `registers`
/// of them, `l2` bytes of L2 and two FMA pipes, at 2 threads.
ScheduleParams paramsOf(int64_t vectorBytes, int64_t registers, int64_t l2) {
  CpuTarget cpu;
  cpu.vectorBytes = vectorBytes;
  cpu.vectorRegisters = registers;
  cpu.l2Bytes = l2;
  cpu.fmaUnits = 2;
  return scheduleParamsFor(cpu, 2);
}

ScheduleParams avx512() { return paramsOf(64, 32, 1024 * KiB); }
ScheduleParams avx2() { return paramsOf(32, 16, 512 * KiB); }

TEST(CpuScheduleParams, FollowTheRegisterFileAndTheCaches) {
  ScheduleParams p = avx512();
  EXPECT_EQ(p.lanes, 16);
  EXPECT_EQ(p.accumulatorBudget, 26);
  EXPECT_EQ(p.minAccumulators, 8);
  EXPECT_EQ(p.imageOrderWeightBytes, 512 * KiB);
  EXPECT_EQ(p.reductionBlock, 256);
  EXPECT_EQ(p.filterStripBytes, 256 * KiB);
  p = avx2();
  EXPECT_EQ(p.lanes, 8);
  EXPECT_EQ(p.accumulatorBudget, 13);
  EXPECT_EQ(p.imageOrderWeightBytes, 256 * KiB);
  EXPECT_EQ(p.reductionBlock, 128);
  EXPECT_EQ(p.filterStripBytes, 128 * KiB);
}

TEST(CpuTileSizes, ExactDivisorsForTheNinShapes) {
  const ScheduleParams p = avx512();
  RegisterTile t = chooseRegisterTile(26, 256, p); // 5x5 conv, 26x26 output
  EXPECT_EQ(t.rows, 13);
  EXPECT_EQ(t.cols, 32);
  EXPECT_FALSE(t.peel);
  t = chooseRegisterTile(12, 384, p); // 3x3 conv, 12x12 output
  EXPECT_EQ(t.rows, 12);
  EXPECT_EQ(t.cols, 32);
  t = chooseRegisterTile(54, 96, p); // 11x11/4 and 1x1 convs, 54x54 output
  EXPECT_EQ(t.rows, 9);
  EXPECT_EQ(t.cols, 32);
}

TEST(CpuTileSizes, Avx2TilesAreSixByTwoYmm) {
  const ScheduleParams p = avx2();
  RegisterTile t = chooseRegisterTile(54, 96, p);
  EXPECT_EQ(t.rows, 6);
  EXPECT_EQ(t.cols, 16);
  EXPECT_FALSE(t.peel);
  t = chooseRegisterTile(12, 384, p);
  EXPECT_EQ(t.rows, 6);
  EXPECT_EQ(t.cols, 16);
  t = chooseRegisterTile(26, 256, p); // no divisor of 26 gives 8 accumulators
  EXPECT_EQ(t.rows, 6);
  EXPECT_TRUE(t.peel);
  t = chooseRegisterTile(3, 384, p); // 3x3 weight gradient: 3 x 4 ymm
  EXPECT_EQ(t.rows, 3);
  EXPECT_EQ(t.cols, 32);
  t = chooseRegisterTile(5, 256, p); // 5 x 4 ymm would be 20 > 13
  EXPECT_EQ(t.cols, 16);
}

TEST(CpuTileSizes, OddChannelCountsUseOnePartialVector) {
  RegisterTile t = chooseRegisterTile(5, 10, avx512()); // 384 -> 10 classes, 5x5
  EXPECT_EQ(t.cols, 10);
  EXPECT_EQ(t.rows, 5);
  EXPECT_FALSE(t.peel);
}

TEST(CpuTileSizes, ShortRowsGetWiderColumns) {
  const ScheduleParams p = avx512();
  RegisterTile t = chooseRegisterTile(3, 384, p); // 3x3 weight gradient: KW = 3
  EXPECT_EQ(t.rows, 3);
  EXPECT_EQ(t.cols, 128);
  t = chooseRegisterTile(5, 256, p); // 5x5 weight gradient
  EXPECT_EQ(t.rows, 5);
  EXPECT_EQ(t.cols, 64);
  t = chooseRegisterTile(11, 96, p); // 11x11: 22 accumulators already
  EXPECT_EQ(t.cols, 32);
}

TEST(CpuTileSizes, PrimeWidthsArePeeled) {
  RegisterTile t = chooseRegisterTile(29, 32, avx512());
  EXPECT_EQ(t.rows, 13);
  EXPECT_TRUE(t.peel);
  t = chooseRegisterTile(29, 32, avx2());
  EXPECT_EQ(t.rows, 6);
  EXPECT_TRUE(t.peel);
}

TEST(CpuTileSizes, AccumulatorsStayWithinBudget) {
  for (const ScheduleParams &p : {avx512(), avx2()})
    for (int64_t rows : {1, 7, 26, 54, 224, 5408})
      for (int64_t cols : {1, 10, 16, 32, 48, 96, 256, 384}) {
        RegisterTile t = chooseRegisterTile(rows, cols, p);
        EXPECT_LE(t.rows * ((t.cols + p.lanes - 1) / p.lanes), p.accumulatorBudget)
            << rows << " x " << cols << " with " << p.lanes << " lanes";
        EXPECT_EQ(cols % t.cols, 0);
      }
}

TEST(CpuScheduleChoice, TextRoundTrips) {
  for (const char *text : {"default", "tile 6x16", "order columns", "order image block 128",
                           "tile 13x8 order columns block 0"}) {
    std::optional<ScheduleChoice> c = ScheduleChoice::parse(text);
    ASSERT_TRUE(c) << text;
    EXPECT_EQ(c->str(), text);
  }
  for (const char *bad : {"tile 6", "tile 0x16", "order sideways", "block -1", "fast"})
    EXPECT_FALSE(ScheduleChoice::parse(bad)) << bad;
}

TEST(CpuScheduleChoice, CandidatesStartWithTheCostModelAndFitTheRegisters) {
  // The cost model's plan of a 1x1 conv as a matmul, 86528 x 256, on AVX2.
  const ScheduleParams p = avx2();
  Scheduler::Group base;
  base.kind = Scheduler::Group::Kind::Matmul;
  base.tileSizes = {4, 16};
  base.interchange = {0, 1};
  base.fillTag = base.consumerTag = 1;
  std::vector<ScheduleChoice> list = scheduleCandidates(base, {86528, 256}, 256, p);
  ASSERT_GE(list.size(), 3u);
  EXPECT_LE(list.size(), 6u);
  EXPECT_EQ(list[0].str(), "default");
  EXPECT_EQ(list[1].str(), "order columns");
  for (const ScheduleChoice &c : list) {
    if (c.rows == 0)
      continue;
    EXPECT_EQ(256 % c.cols, 0) << c.str();
    EXPECT_LE(c.rows * (c.cols / p.lanes), p.accumulatorBudget) << c.str();
  }
  // 4 rows divide 86528; the most rows two ymm allow (6, peeled) is a candidate.
  bool peeled = false;
  for (const ScheduleChoice &c : list)
    peeled |= c.rows == 6 && c.cols == 16;
  EXPECT_TRUE(peeled);
}

} // namespace
} // namespace ninc::cpu::detail
