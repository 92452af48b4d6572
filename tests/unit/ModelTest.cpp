//===- tests/unit/ModelTest.cpp - Shape rules, parameters and costs -------===//
//
// Checks compiler/model (Shapes.h, Model.h's parameterList, Cost.h) on the
// models in models/ against numbers derived by hand: the output shapes d2l
// chapter 7.3 prints, parameter counts, multiply-accumulates and memory.
// Every expected number below is written out, with its derivation, rather
// than recomputed with the code under test.
//
//===----------------------------------------------------------------------===//

#include "compiler/frontend/Frontend.h"
#include "compiler/model/Cost.h"
#include "compiler/model/Shapes.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace ninc;

namespace {

/// Loads models/<name>, which must be valid.
Model load(const std::string &name) {
  std::string path = NINC_SOURCE_DIR "/models/" + name;
  Expected<Model> m = loadModel(path);
  if (!m) {
    ADD_FAILURE() << m.message();
    return Model{};
  }
  return std::move(*m);
}

/// Output shapes of the 18 expanded layers of the d2l NiN at batch 1, by
/// hand with out = (in + 2p - k) / s + 1:
///   block1: (224 - 11) / 4 + 1 = 54      pool1: (54 - 3) / 2 + 1 = 26
///   block2: (26 + 4 - 5) / 1 + 1 = 26    pool2: (26 - 3) / 2 + 1 = 12
///   block3: (12 + 2 - 3) / 1 + 1 = 12    pool3: (12 - 3) / 2 + 1 = 5
///   block4: (5 + 2 - 3) / 1 + 1 = 5      gap: 1x1, flatten: 10.
const std::vector<Shape> kNinShapes = {
    {1, 96, 54, 54},  {1, 96, 54, 54},  {1, 96, 54, 54},  {1, 96, 26, 26},
    {1, 256, 26, 26}, {1, 256, 26, 26}, {1, 256, 26, 26}, {1, 256, 12, 12},
    {1, 384, 12, 12}, {1, 384, 12, 12}, {1, 384, 12, 12}, {1, 384, 5, 5},
    {1, 384, 5, 5},   {1, 10, 5, 5},    {1, 10, 5, 5},    {1, 10, 5, 5},
    {1, 10, 1, 1},    {1, 10}};

/// d2l NiN parameters: 1,992,166 in all.
constexpr int64_t kNinParams = 1992166;

// Each spec layer's last expanded output is exactly the table d2l prints
// (sequential1 ... flatten0) for a 1x1x224x224 input.
TEST(ModelTest, NinShapesMatchTheChapter) {
  Model m = load("nin.pbtxt");
  Expected<std::vector<Shape>> shapes = inferShapes(m, 1);
  ASSERT_TRUE(shapes) << shapes.message();
  ASSERT_EQ(shapes->size(), 18u);
  const char *chapter[] = {"(1, 96, 54, 54)", "(1, 96, 26, 26)",  "(1, 256, 26, 26)",
                           "(1, 256, 12, 12)", "(1, 384, 12, 12)", "(1, 384, 5, 5)",
                           "(1, 384, 5, 5)",   "(1, 10, 5, 5)",    "(1, 10, 1, 1)",
                           "(1, 10)"};
  ASSERT_EQ(m.specLayers.size(), 10u);
  for (int s = 0; s < 10; ++s)
    EXPECT_EQ(formatShapeTuple((*shapes)[m.specLayers[s].endLayer - 1]), chapter[s])
        << m.specLayers[s].name;
  for (size_t i = 0; i < kNinShapes.size(); ++i)
    EXPECT_EQ((*shapes)[i], kNinShapes[i]) << m.layers[i].name;
  EXPECT_EQ(formatShapeTuple({1, 96, 54, 54}), "(1, 96, 54, 54)");
  EXPECT_EQ(formatShape({1, 96, 54, 54}), "[1, 96, 54, 54]");
  EXPECT_EQ(inputShape(m, 3), (Shape{3, 1, 224, 224}));
}

// The same network on 96x96 inputs (out = (in + 2p - k) / s + 1):
// block1 (96 - 11) / 4 + 1 = 22, pool1 (22 - 3) / 2 + 1 = 10, block2 10,
// pool2 (10 - 3) / 2 + 1 = 4, block3 4, pool3 (4 - 3) / 2 + 1 = 1, dropout 1,
// block4 (1 + 2 - 3) / 1 + 1 = 1, gap 1, flatten 10. Parameters do not
// depend on the input size.
TEST(ModelTest, Nin96ShapesAndParameters) {
  Model m = load("nin-96.pbtxt");
  Expected<std::vector<Shape>> shapes = inferShapes(m, 1);
  ASSERT_TRUE(shapes) << shapes.message();
  const std::vector<Shape> expected = {{1, 96, 22, 22},  {1, 96, 10, 10}, {1, 256, 10, 10},
                                       {1, 256, 4, 4},   {1, 384, 4, 4},  {1, 384, 1, 1},
                                       {1, 384, 1, 1},   {1, 10, 1, 1},   {1, 10, 1, 1},
                                       {1, 10}};
  ASSERT_EQ(m.specLayers.size(), expected.size());
  for (size_t s = 0; s < expected.size(); ++s)
    EXPECT_EQ((*shapes)[m.specLayers[s].endLayer - 1], expected[s]) << m.specLayers[s].name;
  int64_t total = 0;
  for (const ParamInfo &p : parameterList(m))
    total += p.numel();
  EXPECT_EQ(total, kNinParams);
}

// The parameter list: every name and shape in canonical order, the fans of
// the first convolution, per-block counts and the total.
TEST(ModelTest, NinParameterList) {
  Model m = load("nin.pbtxt");
  std::vector<ParamInfo> params = parameterList(m);
  struct Expect { const char *name; Shape shape; int layer; };
  const Expect expected[] = {
      {"block1.0.weight", {96, 1, 11, 11}, 0},  {"block1.0.bias", {96}, 0},
      {"block1.1.weight", {96, 96, 1, 1}, 1},   {"block1.1.bias", {96}, 1},
      {"block1.2.weight", {96, 96, 1, 1}, 2},   {"block1.2.bias", {96}, 2},
      {"block2.0.weight", {256, 96, 5, 5}, 4},  {"block2.0.bias", {256}, 4},
      {"block2.1.weight", {256, 256, 1, 1}, 5}, {"block2.1.bias", {256}, 5},
      {"block2.2.weight", {256, 256, 1, 1}, 6}, {"block2.2.bias", {256}, 6},
      {"block3.0.weight", {384, 256, 3, 3}, 8}, {"block3.0.bias", {384}, 8},
      {"block3.1.weight", {384, 384, 1, 1}, 9}, {"block3.1.bias", {384}, 9},
      {"block3.2.weight", {384, 384, 1, 1}, 10}, {"block3.2.bias", {384}, 10},
      {"block4.0.weight", {10, 384, 3, 3}, 13}, {"block4.0.bias", {10}, 13},
      {"block4.1.weight", {10, 10, 1, 1}, 14},  {"block4.1.bias", {10}, 14},
      {"block4.2.weight", {10, 10, 1, 1}, 15},  {"block4.2.bias", {10}, 15}};
  ASSERT_EQ(params.size(), 24u);
  int64_t total = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    SCOPED_TRACE(expected[i].name);
    EXPECT_EQ(params[i].name, expected[i].name);
    EXPECT_EQ(params[i].shape, expected[i].shape);
    EXPECT_EQ(params[i].layer, expected[i].layer);
    EXPECT_EQ(params[i].isBias, i % 2 == 1);
    total += params[i].numel();
  }
  EXPECT_EQ(total, kNinParams);

  // Xavier fans: fan_in = I*KH*KW = 1*11*11, fan_out = O*KH*KW = 96*121.
  EXPECT_EQ(params[0].fanIn, 121);
  EXPECT_EQ(params[0].fanOut, 11616);
  EXPECT_EQ(params[2].fanIn, 96); // 1x1: 96*1*1 both ways
  EXPECT_EQ(params[2].fanOut, 96);
  EXPECT_EQ(params[6].fanIn, 96 * 25);
  EXPECT_EQ(params[6].fanOut, 256 * 25);

  // Per block, weight + bias of the kxk conv, then twice O*O + O:
  //   block1: 96*1*11*11 + 96 = 11,712;   2 * (96*96 + 96)   = 18,624;  30,336
  //   block2: 256*96*5*5 + 256 = 614,656; 2 * (256*256 + 256) = 131,584; 746,240
  //   block3: 384*256*3*3 + 384 = 885,120; 2 * (384*384 + 384) = 295,680; 1,180,800
  //   block4: 10*384*3*3 + 10 = 34,570;   2 * (10*10 + 10)    = 220;     34,790
  // Sum: 30,336 + 746,240 + 1,180,800 + 34,790 = 1,992,166.
  Expected<std::vector<Shape>> shapes = inferShapes(m, 1);
  ASSERT_TRUE(shapes);
  ModelCost cost = computeCost(m, *shapes, 1);
  const struct { int spec; int64_t params; } blocks[] = {
      {0, 30336}, {2, 746240}, {4, 1180800}, {7, 34790}};
  for (const auto &b : blocks) {
    const SpecLayer &s = m.specLayers[b.spec];
    SCOPED_TRACE(s.name);
    int64_t fromList = 0;
    for (const ParamInfo &p : params)
      if (p.layer >= s.firstLayer && p.layer < s.endLayer)
        fromList += p.numel();
    EXPECT_EQ(fromList, b.params);
    EXPECT_EQ(sumLayers(cost, s.firstLayer, s.endLayer).params, b.params);
  }
  EXPECT_EQ(cost.params, kNinParams);
}

// Exercise 2 (one 1x1 conv per block) drops the second 1x1 conv of each
// block: 1,992,166 - (96*96+96) - (256*256+256) - (384*384+384) - (10*10+10)
// = 1,992,166 - 9,312 - 65,792 - 147,840 - 110 = 1,769,112.
TEST(ModelTest, Exercise2ParameterCount) {
  Model m = load("nin-ex2.pbtxt");
  std::vector<ParamInfo> params = parameterList(m);
  EXPECT_EQ(params.size(), 16u);
  int64_t total = 0;
  for (const ParamInfo &p : params)
    total += p.numel();
  EXPECT_EQ(total, 1769112);
  // The shapes of the chapter's table do not change.
  Expected<std::vector<Shape>> shapes = inferShapes(m, 1);
  ASSERT_TRUE(shapes) << shapes.message();
  EXPECT_EQ((*shapes)[1], (Shape{1, 96, 54, 54}));
  EXPECT_EQ(shapes->back(), (Shape{1, 10}));
}

// Multiply-accumulates and FLOPs of the d2l NiN at batch 1, from the hand
// shapes: each conv does (output elements) x (I*KH*KW) MACs.
TEST(ModelTest, NinMacsAndFlops) {
  Model m = load("nin.pbtxt");
  Expected<std::vector<Shape>> shapes = inferShapes(m, 1);
  ASSERT_TRUE(shapes);
  ModelCost cost = computeCost(m, *shapes, 1);
  ASSERT_EQ(cost.layers.size(), 18u);
  EXPECT_EQ(cost.batch, 1);

  // block1.0: 96*54*54 outputs, 1*11*11 MACs each.
  EXPECT_EQ(cost.layers[0].macs, 96 * 54 * 54 * 1 * 11 * 11);
  EXPECT_EQ(cost.layers[0].macs, 33872256);
  // Totals per conv (outputs x window):
  //   block1: 33,872,256 + 2 * 279,936*96     =  87,619,968
  //   block2: 173,056*2,400 + 2 * 173,056*256 = 503,939,072
  //   block3: 55,296*2,304 + 2 * 55,296*384   = 169,869,312
  //   block4: 250*3,456 + 2 * 250*10          =     869,000
  // Sum 762,297,352.
  EXPECT_EQ(cost.macs, 762297352);

  std::vector<ParamInfo> params = parameterList(m);
  int64_t macs = 0;
  for (const ParamInfo &p : params) {
    if (p.isBias)
      continue;
    const Shape &out = kNinShapes[p.layer];
    int64_t window = p.shape[1] * p.shape[2] * p.shape[3];
    int64_t outputs = out[0] * out[1] * out[2] * out[3];
    const LayerCost &c = cost.layers[p.layer];
    SCOPED_TRACE(p.name);
    EXPECT_EQ(c.macs, outputs * window);
    EXPECT_EQ(c.outputElems, outputs);
    // Bias add and ReLU: one operation per output each.
    EXPECT_EQ(c.forwardFlops, 2 * c.macs + 2 * outputs);
    EXPECT_EQ(c.params, p.numel() + p.shape[0]);
    macs += c.macs;
  }
  EXPECT_EQ(macs, 762297352);
  EXPECT_EQ(cost.layers[0].forwardFlops, 2 * 33872256 + 2 * 279936);
  // The first conv needs no gradient of the model input; the others do.
  EXPECT_EQ(cost.layers[0].backwardFlops, 2 * cost.layers[0].macs + 2 * 279936);
  EXPECT_EQ(cost.layers[1].backwardFlops, 4 * cost.layers[1].macs + 2 * 279936);
  // Max pooling: one comparison per window element per output.
  EXPECT_EQ(cost.layers[3].forwardFlops, 96 * 26 * 26 * 9);
  EXPECT_EQ(cost.params, kNinParams);
}

// Every count at batch 128 is 128 times batch 1, except the ones that only
// depend on the parameters.
TEST(ModelTest, CostsScaleWithBatch) {
  Model m = load("nin.pbtxt");
  Expected<std::vector<Shape>> s1 = inferShapes(m, 1);
  Expected<std::vector<Shape>> s128 = inferShapes(m, 128);
  ASSERT_TRUE(s1 && s128);
  EXPECT_EQ((*s128)[0], (Shape{128, 96, 54, 54}));
  EXPECT_EQ(s128->back(), (Shape{128, 10}));
  ModelCost a = computeCost(m, *s1, 1), b = computeCost(m, *s128, 128);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    SCOPED_TRACE(m.layers[i].name);
    EXPECT_EQ(b.layers[i].params, a.layers[i].params);
    EXPECT_EQ(b.layers[i].macs, 128 * a.layers[i].macs);
    EXPECT_EQ(b.layers[i].forwardFlops, 128 * a.layers[i].forwardFlops);
    EXPECT_EQ(b.layers[i].backwardFlops, 128 * a.layers[i].backwardFlops);
    EXPECT_EQ(b.layers[i].outputElems, 128 * a.layers[i].outputElems);
  }
  EXPECT_EQ(b.batch, 128);
  EXPECT_EQ(b.params, a.params);
  EXPECT_EQ(b.macs, 128 * a.macs);
  EXPECT_EQ(b.forwardFlops, 128 * a.forwardFlops);
  // The SGD update (w -= lr*g: 2 per parameter, no momentum / decay here)
  // happens once per step whatever the batch; the rest scales.
  const int64_t sgd = 2 * kNinParams;
  EXPECT_EQ(b.trainFlops - sgd, 128 * (a.trainFlops - sgd));
  EXPECT_EQ(b.inference.weights, a.inference.weights);
  EXPECT_EQ(b.training.weights, a.training.weights);
  EXPECT_EQ(b.training.gradients, a.training.gradients);
  EXPECT_EQ(b.training.optimizerState, a.training.optimizerState);
  EXPECT_EQ(b.inference.activations, 128 * a.inference.activations);
  EXPECT_EQ(b.training.activations, 128 * a.training.activations);
  EXPECT_EQ(b.training.workspace, 128 * a.training.workspace);
}

// Memory of fp32 execution: weights, gradients and momentum are 4 bytes per
// parameter; training keeps the input and every layer output.
TEST(ModelTest, NinMemory) {
  Model m = load("nin.pbtxt");
  Expected<std::vector<Shape>> shapes = inferShapes(m, 1);
  ASSERT_TRUE(shapes);
  ModelCost cost = computeCost(m, *shapes, 1);
  const int64_t weightBytes = 4 * kNinParams; // 7,968,664
  EXPECT_EQ(cost.inference.weights, weightBytes);
  EXPECT_EQ(cost.training.weights, weightBytes);
  EXPECT_EQ(cost.training.gradients, weightBytes);
  EXPECT_EQ(cost.training.optimizerState, 0);

  // Saved activations from the hand table: 1*224*224 input plus the 18
  // outputs (3*279,936 + 64,896 + 3*173,056 + 36,864 + 3*55,296 + 9,600 +
  // 9,600 + 3*250 + 10 + 10 = 1,646,594), 1,696,770 floats.
  int64_t saved = 224 * 224;
  for (const Shape &s : kNinShapes)
    saved += numElements(s);
  EXPECT_EQ(saved, 1696770);
  EXPECT_EQ(cost.training.activations, 4 * saved);
  // Inference holds the largest input + output pair: block1.1, 2 * 279,936.
  EXPECT_EQ(cost.inference.activations, 4 * 2 * 279936);
  // Backward's gradient buffers for the same largest pair.
  EXPECT_EQ(cost.training.workspace, 4 * 2 * 279936);
  // Weights + gradients (no momentum) + saved activations + workspace:
  // 2 * 7,968,664 + 6,787,080 + 2,239,488.
  EXPECT_EQ(cost.training.total(), 24963896);

  m.training.momentum = 0.9f;
  ModelCost withMomentum = computeCost(m, *shapes, 1);
  EXPECT_EQ(withMomentum.training.optimizerState, weightBytes);
  // SGD with momentum: 2 more operations per parameter.
  EXPECT_EQ(withMomentum.trainFlops - cost.trainFlops, 2 * kNinParams);
}

// The batch size must be in 1..kMaxBatch; the shapes do not depend on it
// otherwise.
TEST(ModelTest, BatchLimits) {
  Model m = load("nin-tiny.pbtxt");
  for (int64_t bad : {int64_t(0), int64_t(-1), ShapeLimits::kMaxBatch + 1}) {
    Expected<std::vector<Shape>> s = inferShapes(m, bad);
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.message(), "batch size: expected 1..1048576, found " + std::to_string(bad));
  }
  Expected<std::vector<Shape>> max = inferShapes(m, ShapeLimits::kMaxBatch);
  ASSERT_TRUE(max) << max.message();
  EXPECT_EQ(max->front(), (Shape{1048576, 8, 14, 14})); // (32 - 5) / 2 + 1 = 14
  EXPECT_EQ(max->back(), (Shape{1048576, 10}));
}

// Edge cases of out = (in + 2p - k) / s + 1 in floor mode.
TEST(ModelTest, SlidingOutputEdges) {
  EXPECT_EQ(slidingOutput(5, 5, 1, 0), 1);  // kernel == input
  EXPECT_EQ(slidingOutput(3, 5, 1, 1), 1);  // kernel == padded input
  EXPECT_EQ(slidingOutput(4, 6, 3, 1), 1);
  EXPECT_LT(slidingOutput(5, 6, 1, 0), 1);  // one larger
  EXPECT_LT(slidingOutput(5, 6, 2, 0), 1);  // -1 / 2 truncates to 0 in C++
  EXPECT_LT(slidingOutput(5, 6, 7, 0), 1);
  EXPECT_LT(slidingOutput(3, 6, 4, 1), 1);
  EXPECT_EQ(slidingOutput(5, 3, 10, 0), 1); // stride larger than the input
  EXPECT_EQ(slidingOutput(5, 1, 100, 0), 1);
  EXPECT_EQ(slidingOutput(224, 11, 4, 0), 54);
  EXPECT_EQ(slidingOutput(54, 3, 2, 0), 26);
  EXPECT_EQ(slidingOutput(26, 5, 1, 2), 26);
  EXPECT_EQ(slidingOutput(7, 3, 2, 0), 3);  // floor: (7 - 3) / 2 + 1
  EXPECT_EQ(slidingOutput(8, 3, 2, 0), 3);  // floor: 5 / 2 + 1
}

/// A 1x16384x16384 input, a 1x1 conv "wide" with `outChannels` outputs,
/// global average pooling and flatten: its conv output has outChannels * 2^28
/// elements per image.
Model wideConvModel(int64_t outChannels) {
  Model m;
  m.name = "wide";
  m.channels = 1;
  m.height = m.width = 16384;
  m.numClasses = outChannels;
  Layer conv;
  conv.name = "wide";
  conv.kind = OpKind::Conv2D;
  conv.conv.outChannels = outChannels;
  conv.conv.kernel = {1, 1};
  Layer gap, flatten;
  gap.name = "gap";
  gap.kind = OpKind::GlobalAvgPool;
  flatten.name = "flatten";
  flatten.kind = OpKind::Flatten;
  m.layers = {conv, gap, flatten};
  for (int i = 0; i < 3; ++i) {
    m.layers[i].specIndex = i;
    m.specLayers.push_back(SpecLayer{m.layers[i].name, opKindName(m.layers[i].kind), i, i + 1});
  }
  return m;
}

// A conv output beyond 2^31 elements per image is refused, naming the layer
// and out_channels; exactly 2^31 (8 * 2^28) is allowed, at any batch.
TEST(ModelTest, ConvOutputLimit) {
  Expected<std::vector<Shape>> ok = inferShapes(wideConvModel(8), 1);
  ASSERT_TRUE(ok) << ok.message();
  EXPECT_EQ((*ok)[0], (Shape{1, 8, 16384, 16384}));
  EXPECT_TRUE(inferShapes(wideConvModel(8), 1024));

  Expected<std::vector<Shape>> tooBig = inferShapes(wideConvModel(9), 1);
  ASSERT_FALSE(tooBig);
  EXPECT_EQ(tooBig.message(),
            "layers[0] 'wide' (conv): field 'out_channels': expected an output of at most 2^31 "
            "elements per image, found [1, 9, 16384, 16384]");
}

// Layers are described by their spec layer and, inside a NiN block, by the
// expanded conv too.
TEST(ModelTest, DescribeLayer) {
  Model m = load("nin.pbtxt");
  ASSERT_EQ(m.layers.size(), 18u);
  EXPECT_EQ(describeLayer(m, 0), "layers[0] 'block1' (nin_block), conv 'block1.0'");
  EXPECT_EQ(describeLayer(m, 1), "layers[0] 'block1' (nin_block), conv 'block1.1'");
  EXPECT_EQ(describeLayer(m, 3), "layers[1] 'pool1' (max_pool)");
  EXPECT_EQ(describeLayer(m, 12), "layers[6] 'dropout' (dropout)");
  EXPECT_EQ(describeLayer(m, 15), "layers[7] 'block4' (nin_block), conv 'block4.2'");
  EXPECT_EQ(describeLayer(m, 17), "layers[9] 'flatten' (flatten)");
  EXPECT_STREQ(opKindName(OpKind::AvgPool2D), "avg_pool");
}

} // namespace
