//===- tests/unit/GradientTest.cpp - Finite-difference gradient checks ----===//
//
// For each op, a tiny model around it (ending in [N, classes] logits) whose
// analytic gradients, from Interpreter<double>::backward, are compared with
// central differences of the loss for EVERY parameter element and EVERY input
// element, batch 2, random inputs from fixed seeds.
//
// Tolerance: with eps = 1e-6, central differences are accurate to about
// eps^2 * |f'''| (truncation) plus ulp(loss) / eps ~ 1e-10 (rounding), so the
// relative error |analytic - numeric| / max(|analytic|, |numeric|, 1e-4) must
// stay below 1e-4. The 1e-4 floor makes gradients smaller than 1e-4 compare
// absolutely (within 1e-8), where rounding noise would dominate a relative
// measure. Random inputs are far from kinks (ReLU at 0, max pool ties) with
// overwhelming probability, and the seeds are fixed.
//
//===----------------------------------------------------------------------===//

#include "compiler/reference/Interpreter.h"
#include "runtime/support/Random.h"

#include "tests/unit/TestSupport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

using namespace ninc;
using namespace ninc::reference;
using namespace ninc::test;

namespace {

constexpr double kEps = 1e-6, kTolerance = 1e-4, kFloor = 1e-4;
constexpr int64_t kBatch = 2;


/// Compares analytic and numeric gradients of one tensor (parameters or
/// images) element by element, keeping the worst relative error.
class GradientChecker {
public:
  GradientChecker(const Model &model, RunOptions opts, uint64_t seed)
      : model_(model), opts_(opts), interp_(model) {
    // Xavier weights, but random (not zero) biases so the bias path matters.
    params_ = initParams<double>(model, seed);
    std::vector<ParamInfo> infos = parameterList(model);
    for (size_t p = 0; p < infos.size(); ++p)
      if (infos[p].isBias)
        for (size_t e = 0; e < params_[p].size(); ++e)
          params_[p][e] = randomUniform01(seed, 1000 + p, e) - 0.5;
    images_.resize(numElements(inputShape(model, kBatch)));
    for (size_t e = 0; e < images_.size(); ++e)
      images_[e] = 2.0 * randomUniform01(seed, 2000, e) - 1.0;
    for (int64_t n = 0; n < kBatch; ++n)
      labels_.push_back(int32_t(randomBits(seed, 3000, n) % model.numClasses));
  }

  /// Checks every element of every parameter and of the input batch.
  void checkAll(const char *what) {
    Expected<std::vector<Shape>> shapes = inferShapes(model_, kBatch);
    ASSERT_TRUE(bool(shapes)) << shapes.message();
    interp_.forward(params_, images_.data(), kBatch, opts_);
    Params<double> grads;
    std::vector<double> inputGrad;
    interp_.backward(params_, labels_.data(), grads, &inputGrad);
    std::vector<ParamInfo> infos = parameterList(model_);
    ASSERT_EQ(grads.size(), infos.size());
    for (size_t p = 0; p < infos.size(); ++p)
      checkTensor(infos[p].name, params_[p], grads[p]);
    checkTensor("input", images_, inputGrad);
    std::printf("[ gradcheck] %-22s %5lld values, max relative error %.2e\n", what,
                (long long)checked_, worst_);
    EXPECT_GT(checked_, 0);
  }

private:
  double lossNow() {
    interp_.forward(params_, images_.data(), kBatch, opts_);
    return interp_.loss(labels_.data());
  }

  /// `values` is a member (a parameter or the images): nudged in place.
  void checkTensor(const std::string &name, std::vector<double> &values,
                   const std::vector<double> &analytic) {
    ASSERT_EQ(values.size(), analytic.size()) << name;
    for (size_t e = 0; e < values.size(); ++e) {
      const double saved = values[e];
      values[e] = saved + kEps;
      double plus = lossNow();
      values[e] = saved - kEps;
      double minus = lossNow();
      values[e] = saved;
      double numeric = (plus - minus) / (2 * kEps);
      double rel = std::abs(analytic[e] - numeric) /
                   std::max({std::abs(analytic[e]), std::abs(numeric), kFloor});
      worst_ = std::max(worst_, rel);
      ++checked_;
      EXPECT_LT(rel, kTolerance) << name << "[" << e << "]: analytic " << analytic[e]
                                 << ", numeric " << numeric;
    }
  }

  Model model_;
  RunOptions opts_;
  Interpreter<double> interp_;
  Params<double> params_;
  std::vector<double> images_;
  std::vector<int32_t> labels_;
  double worst_ = 0;
  int64_t checked_ = 0;
};

void checkGradients(const char *what, const Model &model, RunOptions opts = {},
                    uint64_t seed = 1) {
  GradientChecker(model, opts, seed).checkAll(what);
}

TEST(Gradient, ConvStride2Padding1Bias) {
  // [2, 5, 6] -> [3, 3, 4] with a 3x2 kernel.
  checkGradients("conv", makeModel(2, 5, 6, 36,
                                   {convLayer(3, {3, 2}, {2, 2}, {1, 1}, true, false),
                                    opLayer(OpKind::Flatten)}));
}

TEST(Gradient, ConvFusedRelu) {
  checkGradients("conv+relu", makeModel(2, 5, 6, 36,
                                        {convLayer(3, {3, 2}, {2, 2}, {1, 1}, true, true),
                                         opLayer(OpKind::Flatten)}));
}

TEST(Gradient, ConvAsymmetricStridePaddingNoBias) {
  // Stride (1, 2), padding (2, 0): output row 0 reads two rows of padding.
  checkGradients("conv asym, no bias",
                 makeModel(2, 4, 7, 2 * 6 * 3,
                           {convLayer(2, {3, 3}, {1, 2}, {2, 0}, false, false),
                            opLayer(OpKind::Flatten)}));
}

TEST(Gradient, Relu) {
  checkGradients("relu", makeModel(3, 4, 4, 48, {opLayer(OpKind::ReLU), opLayer(OpKind::Flatten)}));
}

TEST(Gradient, MaxPoolWithPadding) {
  checkGradients("max_pool", makeModel(2, 5, 5, 18,
                                       {poolLayer(OpKind::MaxPool2D, {3, 3}, {2, 2}, {1, 1}),
                                        opLayer(OpKind::Flatten)}));
}

TEST(Gradient, AvgPoolWithPadding) {
  checkGradients("avg_pool", makeModel(2, 5, 5, 18,
                                       {poolLayer(OpKind::AvgPool2D, {3, 3}, {2, 2}, {1, 1}),
                                        opLayer(OpKind::Flatten)}));
}

TEST(Gradient, GlobalAvgPool) {
  checkGradients("global_avg_pool", makeModel(3, 4, 5, 3,
                                              {opLayer(OpKind::GlobalAvgPool),
                                               opLayer(OpKind::Flatten)}));
}

TEST(Gradient, DropoutInTraining) {
  checkGradients("dropout", makeModel(2, 3, 3, 18,
                                      {opLayer(OpKind::Dropout, 0.5f), opLayer(OpKind::Flatten)}),
                 RunOptions{true, 7, 3});
}

TEST(Gradient, Flatten) {
  checkGradients("flatten", makeModel(3, 2, 2, 12, {opLayer(OpKind::Flatten)}));
}

TEST(Gradient, SoftmaxCrossEntropy) {
  // A 1x1 conv scales the inputs so the logits spread over roughly +-10.
  Model m = makeModel(5, 1, 1, 5,
                      {convLayer(5, {1, 1}, {1, 1}, {0, 0}, true, false),
                       opLayer(OpKind::Flatten)});
  m.training.xavierMagnitude = 300;
  checkGradients("softmax_cross_entropy", m);
}

TEST(Gradient, SmallNin) {
  // Two NiN blocks (kxk conv + two 1x1 convs, all ReLU), max pool, dropout,
  // global average pooling, flatten: the chapter's network in miniature.
  Model m = makeModel(1, 12, 12, 3,
                      {convLayer(4, {3, 3}, {1, 1}, {1, 1}, true, true),
                       convLayer(4, {1, 1}, {1, 1}, {0, 0}, true, true),
                       convLayer(4, {1, 1}, {1, 1}, {0, 0}, true, true),
                       poolLayer(OpKind::MaxPool2D, {3, 3}, {2, 2}, {0, 0}),
                       opLayer(OpKind::Dropout, 0.5f),
                       convLayer(3, {3, 3}, {1, 1}, {1, 1}, true, true),
                       convLayer(3, {1, 1}, {1, 1}, {0, 0}, true, true),
                       convLayer(3, {1, 1}, {1, 1}, {0, 0}, true, true),
                       opLayer(OpKind::GlobalAvgPool), opLayer(OpKind::Flatten)});
  checkGradients("small NiN", m, RunOptions{true, 5, 2});
}

} // namespace
