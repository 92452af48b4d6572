//===- tests/lowering/TileSizesTest.cpp - Register tile heuristics --------===//
#include "compiler/codegen/cpu/CpuInternal.h"

#include <gtest/gtest.h>

namespace ninc::cpu::detail {
namespace {

TEST(CpuTileSizes, ExactDivisorsForTheNinShapes) {
  RegisterTile t = chooseRegisterTile(26, 256); // 5x5 conv, 26x26 output
  EXPECT_EQ(t.rows, 13);
  EXPECT_EQ(t.cols, 32);
  EXPECT_FALSE(t.peel);
  t = chooseRegisterTile(12, 384); // 3x3 conv, 12x12 output
  EXPECT_EQ(t.rows, 12);
  EXPECT_EQ(t.cols, 32);
  t = chooseRegisterTile(54, 96); // 11x11/4 and 1x1 convs, 54x54 output
  EXPECT_EQ(t.rows, 9);
  EXPECT_EQ(t.cols, 32);
}

TEST(CpuTileSizes, OddChannelCountsUseOnePartialVector) {
  RegisterTile t = chooseRegisterTile(5, 10); // 384 -> 10 classes, 5x5
  EXPECT_EQ(t.cols, 10);
  EXPECT_EQ(t.rows, 5);
  EXPECT_FALSE(t.peel);
}

TEST(CpuTileSizes, ShortRowsGetWiderColumns) {
  RegisterTile t = chooseRegisterTile(3, 384); // 3x3 weight gradient: KW = 3
  EXPECT_EQ(t.rows, 3);
  EXPECT_EQ(t.cols, 128);
  t = chooseRegisterTile(5, 256); // 5x5 weight gradient
  EXPECT_EQ(t.rows, 5);
  EXPECT_EQ(t.cols, 64);
  t = chooseRegisterTile(11, 96); // 11x11: 22 accumulators already
  EXPECT_EQ(t.cols, 32);
}

TEST(CpuTileSizes, PrimeWidthsArePeeled) {
  RegisterTile t = chooseRegisterTile(29, 32);
  EXPECT_EQ(t.rows, 13);
  EXPECT_TRUE(t.peel);
}

TEST(CpuTileSizes, AccumulatorsStayWithinBudget) {
  for (int64_t rows : {1, 7, 26, 54, 224, 5408})
    for (int64_t cols : {1, 10, 16, 32, 48, 96, 256, 384}) {
      RegisterTile t = chooseRegisterTile(rows, cols);
      EXPECT_LE(t.rows * ((t.cols + 15) / 16), kAccumulatorBudget);
      EXPECT_EQ(cols % t.cols, 0);
    }
}

} // namespace
} // namespace ninc::cpu::detail
