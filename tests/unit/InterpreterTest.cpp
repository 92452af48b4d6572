//===- tests/unit/InterpreterTest.cpp - Reference interpreter values ------===//
//
// Forward values computed by hand, the random conventions (Xavier, dropout)
// pinned to their formulas, SGD against hand-computed updates, and thread
// count independence. Gradients are checked in GradientTest.cpp.
//
//===----------------------------------------------------------------------===//

#include "compiler/reference/Interpreter.h"
#include "runtime/support/Random.h"

#include "tests/unit/TestSupport.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <string>
#include <vector>

using namespace ninc;
using namespace ninc::reference;
using namespace ninc::test;

namespace {


/// n values uniform in [lo, hi) from a fixed stream, for test inputs.
template <typename T> std::vector<T> randomVector(int64_t n, uint64_t seed, double lo, double hi) {
  std::vector<T> v(n);
  for (int64_t e = 0; e < n; ++e)
    v[e] = T(lo + (hi - lo) * randomUniform01(seed, 77, e));
  return v;
}

//===----------------------------------------------------------------------===//
// Forward values
//===----------------------------------------------------------------------===//

// Input 1..9 in a 3x3 grid, weights [[1, 2], [3, -1]], bias 0.5, padding 1:
// out(oh, ow) = x(oh-1, ow-1) + 2 x(oh-1, ow) + 3 x(oh, ow-1) - x(oh, ow) + 0.5,
// with x = 0 outside the grid. All values are exact in float.
TEST(InterpreterForward, ConvHandComputedWithPaddingBiasAndFusedRelu) {
  const std::vector<float> expected = {-0.5f, 1.5f,  3.5f,  9.5f,  -1.5f, 12.5f, 17.5f, 21.5f,
                                       1.5f,  27.5f, 32.5f, 33.5f, 14.5f, 23.5f, 26.5f, 9.5f};
  const std::vector<float> image = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  for (bool relu : {false, true}) {
    Model m = makeModel(1, 3, 3, 16,
                        {convLayer(1, {2, 2}, {1, 1}, {1, 1}, true, relu), opLayer(OpKind::Flatten)});
    Params<float> params = {{1, 2, 3, -1}, {0.5f}};
    Interpreter<float> interp(m);
    interp.forward(params, image.data(), 1);
    ASSERT_EQ(interp.activationShape(0), (Shape{1, 1, 4, 4}));
    for (size_t e = 0; e < expected.size(); ++e)
      EXPECT_EQ(interp.activation(0)[e], relu ? std::max(expected[e], 0.0f) : expected[e])
          << "relu " << relu << " element " << e;
  }
}

// Multi-channel, strided, asymmetric convolution against its definition,
// written as directly as possible (bounds tested in the innermost loop).
TEST(InterpreterForward, ConvMatchesDirectDefinition) {
  const int64_t N = 2, C = 3, H = 7, W = 6, O = 4, KH = 3, KW = 2, SH = 2, SW = 1, PH = 1, PW = 2;
  Model m = makeModel(C, H, W, O * 4 * 9, {convLayer(O, {KH, KW}, {SH, SW}, {PH, PW}, true, false),
                                           opLayer(OpKind::Flatten)});
  const int64_t OH = (H + 2 * PH - KH) / SH + 1, OW = (W + 2 * PW - KW) / SW + 1;
  ASSERT_EQ(OH * OW, 4 * 9);
  Params<double> params = {randomVector<double>(O * C * KH * KW, 1, -1, 1),
                           randomVector<double>(O, 2, -1, 1)};
  std::vector<double> x = randomVector<double>(N * C * H * W, 3, -1, 1);
  Interpreter<double> interp(m);
  interp.forward(params, x.data(), N);
  const std::vector<double> &y = interp.activation(0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double want = params[1][o];
          for (int64_t i = 0; i < C; ++i)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                int64_t ih = oh * SH - PH + kh, iw = ow * SW - PW + kw;
                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                  want += params[0][((o * C + i) * KH + kh) * KW + kw] *
                          x[((n * C + i) * H + ih) * W + iw];
              }
          EXPECT_NEAR(y[((n * O + o) * OH + oh) * OW + ow], want, 1e-12)
              << "n " << n << " o " << o << " oh " << oh << " ow " << ow;
        }
}

// A 4x4 input whose top-left 2x2 is all negative: with 3x3 windows, stride 2
// and padding 1, window (0, 0) covers only that corner, so a pool that padded
// with 0 instead of -infinity would return 0 there.
const std::vector<float> kPoolInput = {-1, -2, 3,   0,   -5,  -6, -7,  8,
                                       9,  -10, 11, -12, -13, 14, -15, 16};

TEST(InterpreterForward, MaxPoolPadsWithMinusInfinity) {
  Model m = makeModel(1, 4, 4, 4,
                      {poolLayer(OpKind::MaxPool2D, {3, 3}, {2, 2}, {1, 1}), opLayer(OpKind::Flatten)});
  Interpreter<float> interp(m);
  EXPECT_EQ(interp.forward({}, kPoolInput.data(), 1), (std::vector<float>{-1, 8, 14, 16}));
}

TEST(InterpreterForward, AvgPoolDividesByTheFullWindow) {
  Model m = makeModel(1, 4, 4, 4,
                      {poolLayer(OpKind::AvgPool2D, {3, 3}, {2, 2}, {1, 1}), opLayer(OpKind::Flatten)});
  Interpreter<double> interp(m);
  std::vector<double> x(kPoolInput.begin(), kPoolInput.end());
  const std::vector<double> &y = interp.forward({}, x.data(), 1);
  const double expected[] = {-14.0 / 9, -4.0 / 9, -11.0 / 9, -1.0 / 9};
  for (int e = 0; e < 4; ++e)
    EXPECT_NEAR(y[e], expected[e], 1e-15) << "window " << e;
}

TEST(InterpreterForward, GlobalAvgPoolAveragesEachPlane) {
  Model m = makeModel(2, 2, 2, 2, {opLayer(OpKind::GlobalAvgPool), opLayer(OpKind::Flatten)});
  Interpreter<float> interp(m);
  const std::vector<float> x = {1, 2, 3, 4, -1, 0.5f, 10, 0};
  interp.forward({}, x.data(), 1);
  EXPECT_EQ(interp.activationShape(0), (Shape{1, 2, 1, 1}));
  EXPECT_EQ(interp.activation(1), (std::vector<float>{2.5f, 2.375f}));
}

TEST(InterpreterForward, FlattenKeepsNchwOrder) {
  Model m = makeModel(2, 1, 2, 4, {opLayer(OpKind::Flatten)});
  Interpreter<float> interp(m);
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(interp.forward({}, x.data(), 2), x);
  EXPECT_EQ(interp.activationShape(0), (Shape{2, 4}));
}

//===----------------------------------------------------------------------===//
// Loss and its gradient
//===----------------------------------------------------------------------===//

// Logits are the input itself (flatten of [3, 1, 1]).
TEST(InterpreterLoss, SoftmaxCrossEntropyIsStableAndExact) {
  Model m = makeModel(3, 1, 1, 3, {opLayer(OpKind::Flatten)});
  Interpreter<double> interp(m);
  // Image 0: softmax (1/4, 1/2, 1/4), loss -ln(1/2) = ln 2. Image 1: logits
  // that overflow exp() without the max shift; loss for label 2 is 2000.
  const std::vector<double> logits = {0, std::log(2.0), 0, 1000, 0, -1000};
  const int32_t labels[] = {1, 2};
  interp.forward({}, logits.data(), 2);
  EXPECT_NEAR(interp.loss(labels), (std::log(2.0) + 2000.0) / 2, 1e-12);
  EXPECT_EQ(interp.predictions(), (std::vector<int32_t>{1, 0}));

  // d loss / d logits = (softmax - onehot) / batch.
  Params<double> grads;
  std::vector<double> dlogits;
  interp.backward({}, labels, grads, &dlogits);
  const std::vector<double> expected = {0.125, -0.25, 0.125, 0.5, 0, -0.5};
  for (int e = 0; e < 6; ++e)
    EXPECT_NEAR(dlogits[e], expected[e], 1e-15) << "logit " << e;
}

// A short last batch is padded with rows labelled kIgnoreLabel: the loss
// and every weight gradient equal those of the short batch alone (the mean
// is over the labelled rows; padding adds nothing), and a batch of padding
// only has loss and gradients 0.
TEST(InterpreterLoss, IgnoredRowsLeaveLossAndGradientsOfTheShortBatch) {
  Model m = makeModel(2, 6, 6, 3,
                      {convLayer(4, {3, 3}, {1, 1}, {1, 1}, true, true),
                       convLayer(3, {1, 1}, {1, 1}, {0, 0}, true, false),
                       opLayer(OpKind::GlobalAvgPool), opLayer(OpKind::Flatten)});
  Params<double> params = initParams<double>(m, 1);
  const int64_t image = 2 * 6 * 6;
  std::vector<double> x = randomVector<double>(5 * image, 4, -1, 1);
  const int32_t shortLabels[] = {0, 2, 1};
  const int32_t paddedLabels[] = {0, 2, 1, kIgnoreLabel, kIgnoreLabel};
  Interpreter<double> shortRun(m), paddedRun(m);
  shortRun.forward(params, x.data(), 3);
  paddedRun.forward(params, x.data(), 5); // rows 3 and 4: other images, ignored
  EXPECT_NEAR(paddedRun.loss(paddedLabels), shortRun.loss(shortLabels), 1e-14);
  Params<double> shortGrads, paddedGrads;
  shortRun.backward(params, shortLabels, shortGrads, nullptr);
  paddedRun.backward(params, paddedLabels, paddedGrads, nullptr);
  ASSERT_EQ(paddedGrads.size(), shortGrads.size());
  for (size_t p = 0; p < shortGrads.size(); ++p)
    for (size_t e = 0; e < shortGrads[p].size(); ++e)
      EXPECT_NEAR(paddedGrads[p][e], shortGrads[p][e], 1e-14) << "param " << p << " [" << e << "]";

  const int32_t noLabels[] = {kIgnoreLabel, kIgnoreLabel};
  Interpreter<double> empty(m);
  empty.forward(params, x.data(), 2);
  EXPECT_EQ(empty.loss(noLabels), 0.0);
  Params<double> zeroGrads;
  empty.backward(params, noLabels, zeroGrads, nullptr);
  for (const std::vector<double> &g : zeroGrads)
    for (double v : g)
      EXPECT_EQ(v, 0.0);
}

TEST(InterpreterBackward, MaxPoolGradientGoesToFirstMaximum) {
  // Channel 0 has its maximum 7 at offsets 1 and 2; channel 1 is constant.
  Model m = makeModel(2, 2, 2, 2,
                      {poolLayer(OpKind::MaxPool2D, {2, 2}, {2, 2}, {0, 0}), opLayer(OpKind::Flatten)});
  Interpreter<double> interp(m);
  const std::vector<double> x = {3, 7, 7, 1, 2, 2, 2, 2};
  const int32_t label = 0;
  interp.forward({}, x.data(), 1);
  Params<double> grads;
  std::vector<double> dx;
  interp.backward({}, &label, grads, &dx);
  double p0 = 1 / (1 + std::exp(2.0 - 7.0)); // softmax of logits (7, 2)
  const std::vector<double> expected = {0, p0 - 1, 0, 0, 1 - p0, 0, 0, 0};
  for (int e = 0; e < 8; ++e)
    EXPECT_NEAR(dx[e], expected[e], 1e-15) << "element " << e;
}

TEST(InterpreterBackward, ReluGradientAtZeroIsZero) {
  Model m = makeModel(3, 1, 1, 3, {opLayer(OpKind::ReLU), opLayer(OpKind::Flatten)});
  Interpreter<double> interp(m);
  const std::vector<double> x = {0, 1, -1};
  const int32_t label = 0;
  interp.forward({}, x.data(), 1);
  Params<double> grads;
  std::vector<double> dx;
  interp.backward({}, &label, grads, &dx);
  double sum = 2 + std::exp(1.0); // logits (0, 1, 0)
  EXPECT_EQ(dx[0], 0.0);
  EXPECT_NEAR(dx[1], std::exp(1.0) / sum, 1e-15);
  EXPECT_EQ(dx[2], 0.0);
}

//===----------------------------------------------------------------------===//
// Initialisation and parameter plumbing
//===----------------------------------------------------------------------===//

TEST(InterpreterInit, XavierUniformFollowsItsFormula) {
  // 64 -> 64 channels, 3x3: 36864 weights, fanIn = fanOut = 576.
  Model m = makeModel(64, 5, 5, 10,
                      {convLayer(64, {3, 3}, {1, 1}, {1, 1}, true, true),
                       convLayer(10, {1, 1}, {1, 1}, {0, 0}, true, false),
                       opLayer(OpKind::GlobalAvgPool), opLayer(OpKind::Flatten)});
  Params<float> a = initParams<float>(m, 42);
  ASSERT_EQ(a.size(), 4u);
  const double s = std::sqrt(3.0 / 576.0);
  double sumSq = 0;
  for (float v : a[0]) {
    EXPECT_LE(std::abs(v), s);
    sumSq += double(v) * v;
  }
  // U(-s, s) has variance s^2/3; the sample estimate over 36864 values has a
  // relative standard error of about 0.5%, so 2% is four sigma.
  EXPECT_NEAR(sumSq / a[0].size() / (s * s / 3), 1.0, 0.02);
  for (int bias : {1, 3})
    for (float v : a[bias])
      EXPECT_EQ(v, 0.0f);
  // Element j of parameter p draws counter j of stream kStreamInit + p.
  const double s2 = std::sqrt(3.0 / ((64.0 + 10.0) / 2));
  for (int j : {0, 1, 639})
    EXPECT_EQ(a[2][j], float(-s2 + 2 * s2 * double(randomUniform01(42, kStreamInit + 2, j))));

  EXPECT_EQ(initParams<float>(m, 42), a) << "same seed, same parameters";
  Params<float> b = initParams<float>(m, 43);
  int64_t same = 0;
  for (size_t j = 0; j < a[0].size(); ++j)
    same += a[0][j] == b[0][j];
  EXPECT_LT(same, 10) << "a different seed must give different weights";
}

TEST(InterpreterInit, ParamsRoundTripThroughTensors) {
  Model m = makeModel(2, 3, 3, 3,
                      {convLayer(3, {3, 3}, {1, 1}, {0, 0}, true, false), opLayer(OpKind::Flatten)});
  Params<float> params = initParams<float>(m, 5);
  params[1] = {0.25f, -1, 2};
  m.weights = paramsToTensors(m, params);
  ASSERT_EQ(m.weights.size(), 2u);
  EXPECT_EQ(m.weights[0].name, "l0.weight");
  EXPECT_EQ(m.weights[0].shape, (std::vector<int64_t>{3, 2, 3, 3}));
  EXPECT_EQ(m.weights[1].name, "l0.bias");
  EXPECT_EQ(paramsFromModel<float>(m), params);
  Params<double> wide = paramsFromModel<double>(m);
  EXPECT_EQ(wide[1], (std::vector<double>{0.25, -1, 2}));
}

//===----------------------------------------------------------------------===//
// Dropout
//===----------------------------------------------------------------------===//

class DropoutTest : public ::testing::Test {
protected:
  static constexpr float kRate = 0.3f;
  static constexpr int64_t kBatch = 2, kElems = kBatch * 4 * 32 * 32;
  // Dropout is layer 1, so a mask drawn from the wrong layer's stream shows.
  Model model = makeModel(4, 32, 32, 4 * 32 * 32,
                          {opLayer(OpKind::ReLU), opLayer(OpKind::Dropout, kRate),
                           opLayer(OpKind::Flatten)});
  std::vector<float> x = randomVector<float>(kElems, 9, 0.5, 1.5); // never 0
  Interpreter<float> interp{model};

  std::vector<float> run(RunOptions opts) { return interp.forward({}, x.data(), kBatch, opts); }
};

TEST_F(DropoutTest, DropsAboutRateAndScalesTheRestExactly) {
  std::vector<float> y = run({true, 11, 5});
  const float scale = 1.0f / (1.0f - kRate);
  int64_t dropped = 0;
  for (int64_t e = 0; e < kElems; ++e) {
    bool keep = randomUniform01(11, kStreamDropout + 1, (uint64_t(5) << 40) + e) >= kRate;
    EXPECT_EQ(y[e], keep ? x[e] * scale : 0.0f) << "element " << e;
    dropped += y[e] == 0;
  }
  // Binomial(8192, 0.3): three standard deviations is 0.0152.
  double sigma = std::sqrt(kRate * (1 - kRate) / kElems);
  EXPECT_NEAR(double(dropped) / kElems, kRate, 3 * sigma);
}

TEST_F(DropoutTest, IsTheIdentityInInference) {
  EXPECT_EQ(run({false, 11, 5}), x);
}

TEST_F(DropoutTest, MaskDependsOnSeedAndStepOnly) {
  std::vector<float> a = run({true, 11, 5});
  EXPECT_EQ(run({true, 11, 5}), a);
  auto differences = [&](const std::vector<float> &b) {
    int64_t d = 0;
    for (int64_t e = 0; e < kElems; ++e)
      d += (a[e] == 0) != (b[e] == 0);
    return d;
  };
  // Independent masks disagree on 2 * 0.3 * 0.7 = 42% of elements.
  EXPECT_GT(differences(run({true, 11, 6})), kElems / 4) << "next step";
  EXPECT_GT(differences(run({true, 12, 5})), kElems / 4) << "other seed";
}

//===----------------------------------------------------------------------===//
// SGD
//===----------------------------------------------------------------------===//

// w = 1, g = 2 at both steps, lr 0.5, weight decay 0.1, momentum 0.9:
//   step 1: g' = 2 + 0.1 * 1 = 2.1, v = 2.1, w = 1 - 0.5 * 2.1 = -0.05
//   step 2: g' = 2 + 0.1 * -0.05 = 1.995, v = 0.9 * 2.1 + 1.995 = 3.885,
//           w = -0.05 - 0.5 * 3.885 = -1.9925
// Without momentum step 2 is w = -0.05 - 0.5 * 1.995 = -1.0475.
TEST(InterpreterSgd, MomentumAndWeightDecayOverTwoSteps) {
  Params<double> w = {{1.0, 1.0}}, g = {{2.0, 2.0}}, v;
  SgdConfig cfg{0.5f, 0.9f, 0.1f};
  // The config is float; use the float values in the expectations' algebra.
  const double lr = 0.5, wd = double(0.1f), mom = double(0.9f);
  sgdUpdate(w, g, v, cfg);
  EXPECT_NEAR(w[0][0], 1 - lr * (2 + wd), 1e-15);
  EXPECT_NEAR(v[0][0], 2 + wd, 1e-15);
  sgdUpdate(w, g, v, cfg);
  EXPECT_NEAR(w[0][1], -1.9925, 1e-7); // float 0.1 and 0.9 move it by ~3e-8
  double v2 = mom * (2 + wd) + 2 + wd * (1 - lr * (2 + wd));
  EXPECT_NEAR(w[0][1], 1 - lr * (2 + wd) - lr * v2, 1e-15);

  Params<double> w0 = {{1.0}}, g0 = {{2.0}}, unused;
  SgdConfig plain{0.5f, 0.0f, 0.1f};
  sgdUpdate(w0, g0, unused, plain);
  sgdUpdate(w0, g0, unused, plain);
  EXPECT_NEAR(w0[0][0], -1.0475, 1e-7);
  EXPECT_TRUE(unused.empty()) << "no velocity without momentum";
}

TEST(InterpreterSgd, TrainStepLowersTheLossOnAFixedBatch) {
  Model m = makeModel(2, 6, 6, 3,
                      {convLayer(4, {3, 3}, {1, 1}, {1, 1}, true, true),
                       opLayer(OpKind::Dropout, 0.2f),
                       convLayer(3, {1, 1}, {1, 1}, {0, 0}, true, false),
                       opLayer(OpKind::GlobalAvgPool), opLayer(OpKind::Flatten)});
  Params<float> params = initParams<float>(m, 1), velocity;
  std::vector<float> x = randomVector<float>(4 * 2 * 6 * 6, 4, -1, 1);
  const int32_t labels[] = {0, 1, 2, 1};
  Interpreter<float> interp(m);
  SgdConfig cfg{0.5f, 0.9f, 1e-4f};
  double first = trainStep(interp, params, velocity, x.data(), labels, 4, cfg, 3, 0);
  double last = first;
  for (uint64_t step = 1; step < 30; ++step)
    last = trainStep(interp, params, velocity, x.data(), labels, 4, cfg, 3, step);
  EXPECT_LT(last, 0.5 * first);
}

//===----------------------------------------------------------------------===//
// Determinism
//===----------------------------------------------------------------------===//

TEST(InterpreterDeterminism, ResultsDoNotDependOnThreadCount) {
  // Every conv and pool here is above the interpreter's threshold for going
  // parallel (2^15 inner iterations), so the OpenMP loops really run.
  Model m = makeModel(3, 20, 20, 8,
                      {convLayer(16, {3, 3}, {1, 1}, {1, 1}, true, true),
                       poolLayer(OpKind::AvgPool2D, {2, 2}, {1, 1}, {1, 1}),
                       poolLayer(OpKind::MaxPool2D, {3, 3}, {2, 2}, {1, 1}),
                       opLayer(OpKind::Dropout, 0.5f),
                       convLayer(8, {3, 3}, {2, 2}, {1, 1}, true, false),
                       opLayer(OpKind::GlobalAvgPool), opLayer(OpKind::Flatten)});
  Params<float> params = initParams<float>(m, 8);
  std::vector<float> x = randomVector<float>(4 * 3 * 20 * 20, 6, -1, 1);
  const int32_t labels[] = {0, 1, 7, 3};
  auto run = [&](int threads, std::vector<float> &logits, Params<float> &grads,
                 std::vector<float> &dx) {
    omp_set_num_threads(threads);
    Interpreter<float> interp(m);
    logits = interp.forward(params, x.data(), 4, {true, 2, 1});
    interp.backward(params, labels, grads, &dx);
  };
  std::vector<float> logits1, logits2, dx1, dx2;
  Params<float> grads1, grads2;
  int saved = omp_get_max_threads();
  run(1, logits1, grads1, dx1);
  for (int threads : {2, 3}) {
    run(threads, logits2, grads2, dx2);
    EXPECT_EQ(logits1, logits2) << threads << " threads"; // bitwise equal floats
    EXPECT_EQ(grads1, grads2) << threads << " threads";
    EXPECT_EQ(dx1, dx2) << threads << " threads";
  }
  omp_set_num_threads(saved);
}

} // namespace
