//===- tests/unit/FrontendTest.cpp - Model files: load, save, convert -----===//
//
// Checks compiler/frontend against the models in models/ and hand-made files:
// what a load produces (expanded NiN blocks, attributes, defaults), format
// detection, error locations, robustness against truncated / random /
// mutated files, unknown fields, conversion, saving with weights and the
// all-or-none weight rules. The lit corpus in tests/bad-models already pins
// the message of each single invalid field; this file does not repeat it.
//
//===----------------------------------------------------------------------===//

#include "compiler/frontend/Frontend.h"
#include "compiler/model/Shapes.h"

#include "tests/unit/TestSupport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;
using namespace ninc;

using ninc::test::TempDir;

namespace {

const std::string kModels = NINC_SOURCE_DIR "/models/";


std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool startsWith(const std::string &s, const std::string &prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

/// Loads a model that must be valid; an empty Model (and a failure) if not.
Model loadOk(const std::string &path, SpecFormat format = SpecFormat::Auto) {
  Expected<Model> m = loadModel(path, format);
  if (!m) {
    ADD_FAILURE() << "loading " << path << ": " << m.message();
    return Model{};
  }
  return std::move(*m);
}

/// Every field of two Models except sourcePath (and weights, compared where
/// they matter).
void expectSameModel(const Model &a, const Model &b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.channels, b.channels);
  EXPECT_EQ(a.height, b.height);
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.numClasses, b.numClasses);
  EXPECT_EQ(a.specBytes, b.specBytes);
  ASSERT_EQ(a.specLayers.size(), b.specLayers.size());
  for (size_t i = 0; i < a.specLayers.size(); ++i) {
    EXPECT_EQ(a.specLayers[i].name, b.specLayers[i].name);
    EXPECT_EQ(a.specLayers[i].op, b.specLayers[i].op);
    EXPECT_EQ(a.specLayers[i].firstLayer, b.specLayers[i].firstLayer);
    EXPECT_EQ(a.specLayers[i].endLayer, b.specLayers[i].endLayer);
  }
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const Layer &x = a.layers[i], &y = b.layers[i];
    SCOPED_TRACE(x.name);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.kind, y.kind);
    EXPECT_EQ(x.specIndex, y.specIndex);
    EXPECT_EQ(x.dropoutRate, y.dropoutRate);
    EXPECT_EQ(x.conv.outChannels, y.conv.outChannels);
    EXPECT_EQ(x.conv.kernel.h, y.conv.kernel.h);
    EXPECT_EQ(x.conv.kernel.w, y.conv.kernel.w);
    EXPECT_EQ(x.conv.stride.h, y.conv.stride.h);
    EXPECT_EQ(x.conv.stride.w, y.conv.stride.w);
    EXPECT_EQ(x.conv.padding.h, y.conv.padding.h);
    EXPECT_EQ(x.conv.padding.w, y.conv.padding.w);
    EXPECT_EQ(x.conv.bias, y.conv.bias);
    EXPECT_EQ(x.conv.relu, y.conv.relu);
    EXPECT_EQ(x.pool.kernel.h, y.pool.kernel.h);
    EXPECT_EQ(x.pool.kernel.w, y.pool.kernel.w);
    EXPECT_EQ(x.pool.stride.h, y.pool.stride.h);
    EXPECT_EQ(x.pool.stride.w, y.pool.stride.w);
    EXPECT_EQ(x.pool.padding.h, y.pool.padding.h);
    EXPECT_EQ(x.pool.padding.w, y.pool.padding.w);
  }
  EXPECT_EQ(a.training.learningRate, b.training.learningRate);
  EXPECT_EQ(a.training.momentum, b.training.momentum);
  EXPECT_EQ(a.training.weightDecay, b.training.weightDecay);
  EXPECT_EQ(a.training.batchSize, b.training.batchSize);
  EXPECT_EQ(a.training.epochs, b.training.epochs);
  EXPECT_EQ(a.training.xavierMagnitude, b.training.xavierMagnitude);
  EXPECT_EQ(a.training.seed, b.training.seed);
  EXPECT_EQ(a.training.dataset, b.training.dataset);
}

/// `model` with every parameter set (parameterList order): 0.01 * i for the
/// i-th value overall, with a few values chosen to stress exact round trips
/// (-0, the smallest denormal, the extremes, 1/3, 1 + ulp).
Model withWeights(Model model) {
  const float special[] = {-0.0f,
                           std::numeric_limits<float>::denorm_min(),
                           std::numeric_limits<float>::max(),
                           std::numeric_limits<float>::lowest(),
                           1.0f / 3.0f,
                           std::nextafter(1.0f, 2.0f),
                           -1.17549435e-38f};
  model.weights.clear();
  int64_t i = 0;
  for (const ParamInfo &p : parameterList(model)) {
    TensorData t{p.name, p.shape, std::vector<float>(p.numel())};
    for (float &v : t.data) {
      v = 0.01f * static_cast<float>(i);
      if (i % 97 == 5)
        v = special[(i / 97) % (sizeof special / sizeof special[0])];
      ++i;
    }
    model.weights.push_back(std::move(t));
  }
  return model;
}

/// `weights { ... }` text entries for `tensors`, in the order given.
std::string weightsText(const std::vector<TensorData> &tensors) {
  std::string s;
  char buf[64];
  for (const TensorData &t : tensors) {
    s += "weights { name: \"" + t.name + "\" shape: [";
    for (size_t i = 0; i < t.shape.size(); ++i)
      s += (i ? ", " : "") + std::to_string(t.shape[i]);
    s += "] data: [";
    for (size_t i = 0; i < t.data.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%s%.9g", i ? ", " : "", static_cast<double>(t.data[i]));
      s += buf;
    }
    s += "] }\n";
  }
  return s;
}

/// Outcomes of loading many corrupted files. A case is "bad" when the load
/// neither gives a whole, valid model nor an error that starts with the file
/// name; the first bad case is kept for the failure message.
struct FuzzTally {
  int loaded = 0, refused = 0, bad = 0;
  double slowestSeconds = 0;
  std::string firstBad;

  void check(const std::string &path, const std::string &what) {
    auto start = std::chrono::steady_clock::now();
    Expected<Model> m = loadModel(path);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    slowestSeconds = std::max(slowestSeconds, secs);
    std::string problem;
    if (m) {
      ++loaded;
      size_t params = parameterList(*m).size();
      if (m->layers.empty() || !inferShapes(*m, 1))
        problem = "loaded a model without valid layers";
      else if (!m->weights.empty() && m->weights.size() != params)
        problem = "loaded " + std::to_string(m->weights.size()) + " of " +
                  std::to_string(params) + " weights";
    } else {
      ++refused;
      if (!startsWith(m.message(), path + ":") || m.message().find("error: ") == std::string::npos)
        problem = "message does not start with the file name: " + m.message();
    }
    if (!problem.empty() && bad++ == 0)
      firstBad = what + ": " + problem;
  }
};

/// Text of a small valid model: pool `stride` omitted, conv defaults, a
/// non-square kernel and one padding value for both sides.
const char *kDefaultsModel = R"(name: "defaults"
input { channels: 1 height: 8 width: 8 }
num_classes: 10
layers { name: "c1" conv { out_channels: 4 kernel_size: [5, 3] padding: 1 } }
layers { name: "c2" conv { out_channels: 6 kernel_size: 1 bias: false activation: RELU } }
layers { name: "c3" conv { out_channels: 10 kernel_size: 1 bias: true } }
layers { name: "pool" max_pool { kernel_size: [3, 2] } }
layers { name: "gap" global_avg_pool {} }
layers { name: "flatten" flatten {} }
)";

/// An invalid model whose line 7 (column 43) has a pooling stride of 0.
const char *kStrideZeroModel = R"(name: "bad_stride"
input { channels: 1 height: 16 width: 16 }
num_classes: 10
# A NiN block, then pooling with a zero stride.
layers { name: "block1" nin_block { out_channels: 10 kernel_size: 3 padding: 1 } }
layers {
  name: "pool1" max_pool { kernel_size: 3 stride: 0 }
}
layers { name: "gap" global_avg_pool {} }
layers { name: "flatten" flatten {} }
)";

// The d2l NiN loads identically from text and binary, with the chapter's
// layers, attributes, training recipe and spec-layer ranges.
TEST(FrontendTest, NinTextAndBinaryLoadTheChaptersModel) {
  Model text = loadOk(kModels + "nin.pbtxt");
  Model bin = loadOk(kModels + "nin.pb");
  expectSameModel(text, bin);
  EXPECT_EQ(text.sourcePath, kModels + "nin.pbtxt");
  EXPECT_EQ(bin.sourcePath, kModels + "nin.pb");

  const Model &m = text;
  EXPECT_EQ(m.name, "nin");
  EXPECT_EQ(m.description, "d2l 7.3 NiN on Fashion-MNIST resized to 224x224");
  EXPECT_EQ(m.channels, 1);
  EXPECT_EQ(m.height, 224);
  EXPECT_EQ(m.width, 224);
  EXPECT_EQ(m.numClasses, 10);
  EXPECT_TRUE(m.weights.empty());
  EXPECT_FALSE(m.specBytes.empty());

  const std::vector<std::string> names = {
      "block1.0", "block1.1", "block1.2", "pool1",   "block2.0", "block2.1",
      "block2.2", "pool2",    "block3.0", "block3.1", "block3.2", "pool3",
      "dropout",  "block4.0", "block4.1", "block4.2", "gap",      "flatten"};
  ASSERT_EQ(m.layers.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i)
    EXPECT_EQ(m.layers[i].name, names[i]) << i;

  // Spec layers and the expanded range each covers.
  struct Range { const char *name, *op; int first, end; };
  const Range ranges[] = {{"block1", "nin_block", 0, 3},   {"pool1", "max_pool", 3, 4},
                          {"block2", "nin_block", 4, 7},   {"pool2", "max_pool", 7, 8},
                          {"block3", "nin_block", 8, 11},  {"pool3", "max_pool", 11, 12},
                          {"dropout", "dropout", 12, 13},  {"block4", "nin_block", 13, 16},
                          {"gap", "global_avg_pool", 16, 17}, {"flatten", "flatten", 17, 18}};
  ASSERT_EQ(m.specLayers.size(), 10u);
  for (int s = 0; s < 10; ++s) {
    SCOPED_TRACE(ranges[s].name);
    EXPECT_EQ(m.specLayers[s].name, ranges[s].name);
    EXPECT_EQ(m.specLayers[s].op, ranges[s].op);
    EXPECT_EQ(m.specLayers[s].firstLayer, ranges[s].first);
    EXPECT_EQ(m.specLayers[s].endLayer, ranges[s].end);
    for (int l = ranges[s].first; l < ranges[s].end; ++l)
      EXPECT_EQ(m.layers[l].specIndex, s) << m.layers[l].name;
  }

  // The kxk convolution of each block and its 1x1 followers.
  struct Block { int first; int64_t out, k, stride, pad; };
  const Block blocks[] = {
      {0, 96, 11, 4, 0}, {4, 256, 5, 1, 2}, {8, 384, 3, 1, 1}, {13, 10, 3, 1, 1}};
  for (const Block &b : blocks) {
    for (int j = 0; j < 3; ++j) {
      const Layer &l = m.layers[b.first + j];
      SCOPED_TRACE(l.name);
      ASSERT_EQ(l.kind, OpKind::Conv2D);
      EXPECT_TRUE(l.conv.relu);
      EXPECT_TRUE(l.conv.bias);
      EXPECT_EQ(l.conv.outChannels, b.out);
      int64_t k = j == 0 ? b.k : 1, s = j == 0 ? b.stride : 1, p = j == 0 ? b.pad : 0;
      EXPECT_EQ(l.conv.kernel.h, k);
      EXPECT_EQ(l.conv.kernel.w, k);
      EXPECT_EQ(l.conv.stride.h, s);
      EXPECT_EQ(l.conv.stride.w, s);
      EXPECT_EQ(l.conv.padding.h, p);
      EXPECT_EQ(l.conv.padding.w, p);
    }
  }
  for (int i : {3, 7, 11}) {
    const Layer &l = m.layers[i];
    ASSERT_EQ(l.kind, OpKind::MaxPool2D) << l.name;
    EXPECT_EQ(l.pool.kernel.h, 3);
    EXPECT_EQ(l.pool.kernel.w, 3);
    EXPECT_EQ(l.pool.stride.h, 2);
    EXPECT_EQ(l.pool.stride.w, 2);
    EXPECT_EQ(l.pool.padding.h, 0);
    EXPECT_EQ(l.pool.padding.w, 0);
  }
  EXPECT_EQ(m.layers[12].kind, OpKind::Dropout);
  EXPECT_EQ(m.layers[12].dropoutRate, 0.5f);
  EXPECT_EQ(m.layers[16].kind, OpKind::GlobalAvgPool);
  EXPECT_EQ(m.layers[17].kind, OpKind::Flatten);

  EXPECT_EQ(m.training.learningRate, 0.1f);
  EXPECT_EQ(m.training.momentum, 0.0f);
  EXPECT_EQ(m.training.weightDecay, 0.0f);
  EXPECT_EQ(m.training.batchSize, 128);
  EXPECT_EQ(m.training.epochs, 5);
  EXPECT_EQ(m.training.xavierMagnitude, 3.0f);
  EXPECT_EQ(m.training.seed, 0u);
  EXPECT_EQ(m.training.dataset, "fashion-mnist");

  // nin-tiny sets a non-default recipe, which must come through.
  Model tiny = loadOk(kModels + "nin-tiny.pbtxt");
  EXPECT_EQ(tiny.training.batchSize, 16);
  EXPECT_EQ(tiny.training.epochs, 1);
  EXPECT_EQ(tiny.training.seed, 7u);
  EXPECT_EQ(tiny.layers.size(), 14u);
}

// Exercise 2's variant (num_1x1: 1) expands each block into 2 convolutions.
TEST(FrontendTest, Exercise2BlocksHaveOne1x1Conv) {
  Model m = loadOk(kModels + "nin-ex2.pbtxt");
  const std::vector<std::string> names = {
      "block1.0", "block1.1", "pool1", "block2.0", "block2.1", "pool2", "block3.0",
      "block3.1", "pool3",    "dropout", "block4.0", "block4.1", "gap", "flatten"};
  ASSERT_EQ(m.layers.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i)
    EXPECT_EQ(m.layers[i].name, names[i]) << i;
  ASSERT_EQ(m.specLayers.size(), 10u);
  EXPECT_EQ(m.specLayers[0].endLayer - m.specLayers[0].firstLayer, 2);
  EXPECT_EQ(m.specLayers[7].firstLayer, 10);
  EXPECT_EQ(m.specLayers[7].endLayer, 12);
  EXPECT_EQ(m.layers[1].conv.kernel.h, 1);
  EXPECT_EQ(m.layers[1].conv.outChannels, 96);
}

// Omitted fields take their documented defaults; explicit ones are kept.
TEST(FrontendTest, DefaultsAndShorthands) {
  TempDir tmp;
  Model m = loadOk(tmp.write("defaults.pbtxt", kDefaultsModel));
  ASSERT_EQ(m.layers.size(), 6u);

  // No training section: d2l's recipe.
  EXPECT_EQ(m.training.learningRate, 0.1f);
  EXPECT_EQ(m.training.momentum, 0.0f);
  EXPECT_EQ(m.training.weightDecay, 0.0f);
  EXPECT_EQ(m.training.batchSize, 128);
  EXPECT_EQ(m.training.epochs, 5);
  EXPECT_EQ(m.training.xavierMagnitude, 3.0f);
  EXPECT_EQ(m.training.seed, 0u);

  const Conv2DAttrs &c1 = m.layers[0].conv;
  EXPECT_EQ(c1.kernel.h, 5);  // kernel_size: [5, 3] is height, width
  EXPECT_EQ(c1.kernel.w, 3);
  EXPECT_EQ(c1.padding.h, 1); // one padding value applies to both
  EXPECT_EQ(c1.padding.w, 1);
  EXPECT_EQ(c1.stride.h, 1);  // stride defaults to 1
  EXPECT_EQ(c1.stride.w, 1);
  EXPECT_TRUE(c1.bias);       // no `bias` field: bias
  EXPECT_FALSE(c1.relu);      // no activation: none
  EXPECT_FALSE(m.layers[1].conv.bias);
  EXPECT_TRUE(m.layers[1].conv.relu);
  EXPECT_TRUE(m.layers[2].conv.bias);

  // Pool stride omitted: equal to the kernel, per dimension.
  const Pool2DAttrs &p = m.layers[3].pool;
  EXPECT_EQ(p.kernel.h, 3);
  EXPECT_EQ(p.kernel.w, 2);
  EXPECT_EQ(p.stride.h, 3);
  EXPECT_EQ(p.stride.w, 2);
  EXPECT_EQ(p.padding.h, 0);

  // Parameters follow: no c2.bias.
  std::vector<ParamInfo> params = parameterList(m);
  ASSERT_EQ(params.size(), 5u);
  EXPECT_EQ(params[0].name, "c1.weight");
  EXPECT_EQ(params[0].shape, (Shape{4, 1, 5, 3}));
  EXPECT_EQ(params[1].name, "c1.bias");
  EXPECT_EQ(params[2].name, "c2.weight");
  EXPECT_EQ(params[2].shape, (Shape{6, 4, 1, 1}));
  EXPECT_EQ(params[3].name, "c3.weight");
  EXPECT_EQ(params[4].name, "c3.bias");

  // Shapes: 8+2-5+1 = 6 by 8+2-3+1 = 8; pool (6-3)/3+1 = 2 by (8-2)/2+1 = 4.
  Expected<std::vector<Shape>> shapes = inferShapes(m, 1);
  ASSERT_TRUE(shapes) << shapes.message();
  EXPECT_EQ((*shapes)[0], (Shape{1, 4, 6, 8}));
  EXPECT_EQ((*shapes)[3], (Shape{1, 10, 2, 4}));
}

// Extensions decide the encoding; without one the content does, and an
// explicit format that does not match the content fails naming the file.
TEST(FrontendTest, FormatDetection) {
  EXPECT_EQ(formatFromExtension("a/b.pbtxt"), SpecFormat::Text);
  EXPECT_EQ(formatFromExtension("b.prototxt"), SpecFormat::Text);
  EXPECT_EQ(formatFromExtension("b.textproto"), SpecFormat::Text);
  EXPECT_EQ(formatFromExtension("b.txt"), SpecFormat::Text);
  EXPECT_EQ(formatFromExtension("b.pb"), SpecFormat::Binary);
  EXPECT_EQ(formatFromExtension("b.bin"), SpecFormat::Binary);
  EXPECT_EQ(formatFromExtension("b.binpb"), SpecFormat::Binary);
  EXPECT_EQ(formatFromExtension("model"), SpecFormat::Auto);
  EXPECT_EQ(formatFromExtension("pb"), SpecFormat::Auto);

  TempDir tmp;
  Model reference = loadOk(kModels + "nin.pbtxt");
  std::string text = tmp.write("nin-text", readFile(kModels + "nin.pbtxt"));
  std::string bin = tmp.write("nin-binary", readFile(kModels + "nin.pb"));
  expectSameModel(loadOk(text), reference);
  expectSameModel(loadOk(bin), reference);
  expectSameModel(loadOk(bin, SpecFormat::Binary), reference);

  Expected<Model> asText = loadModel(bin, SpecFormat::Text);
  ASSERT_FALSE(asText);
  EXPECT_TRUE(startsWith(asText.message(), bin + ":")) << asText.message();
  EXPECT_NE(asText.message().find("error: "), std::string::npos) << asText.message();

  Expected<Model> asBinary = loadModel(text, SpecFormat::Binary);
  ASSERT_FALSE(asBinary);
  EXPECT_TRUE(startsWith(asBinary.message(), text + ": error: expected a binary ninc.spec.Model"))
      << asBinary.message();
}

// Validation errors point at line:column in text and name the layer and
// field; the same invalid model in binary has no line but the same words.
TEST(FrontendTest, ErrorLocations) {
  TempDir tmp;
  std::string text = tmp.write("stride.pbtxt", kStrideZeroModel);
  Expected<Model> m = loadModel(text);
  ASSERT_FALSE(m);
  const std::string tail =
      "error: layers[1] 'pool1' (max_pool): field 'stride': expected values in 1..1024, found 0";
  EXPECT_EQ(m.message(), text + ":7:43: " + tail);

  ConvertOptions keep;
  keep.validate = false;
  std::string bin = tmp.path("stride.pb");
  ASSERT_TRUE(convertModelFile(text, bin, keep));
  Expected<Model> b = loadModel(bin);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.message(), bin + ": " + tail);
}

// Every prefix of nin.pb either fails naming the file or, cut exactly between
// top-level fields after the last layer, is a valid model.
TEST(FrontendTest, TruncatedNinBinary) {
  TempDir tmp;
  const std::string full = readFile(kModels + "nin.pb");
  ASSERT_EQ(full.size(), 299u);
  const std::string path = tmp.path("cut.pb");
  FuzzTally tally;
  std::vector<size_t> validCuts;
  for (size_t n = 0; n < full.size(); ++n) {
    tmp.write("cut.pb", full.substr(0, n));
    int before = tally.loaded;
    tally.check(path, "prefix " + std::to_string(n));
    if (tally.loaded != before)
      validCuts.push_back(n);
  }
  EXPECT_EQ(tally.bad, 0) << tally.firstBad;
  EXPECT_LT(tally.slowestSeconds, 1.0);
  // The file ends in training (field 6) then description (field 7): 0x3a,
  // its length (one byte), its bytes. Only the cuts just before each load.
  const Model nin = loadOk(kModels + "nin.pb");
  ASSERT_EQ(nin.description.size(), 47u);
  const size_t descriptionStart = full.size() - 2 - nin.description.size();
  ASSERT_EQ(full[descriptionStart + 1], 47);
  ASSERT_EQ(static_cast<unsigned char>(full[descriptionStart]), 0x3a);
  ASSERT_EQ(validCuts.size(), 2u);
  EXPECT_EQ(full[validCuts[0]], '\x32'); // the training field's tag
  EXPECT_EQ(validCuts[1], descriptionStart);
  tmp.write("cut.pb", full.substr(0, descriptionStart));
  Model noDescription = loadOk(path);
  EXPECT_EQ(noDescription.description, "");
  EXPECT_EQ(noDescription.layers.size(), 18u);
}

// Every prefix of a binary model carrying weights: no crash, errors name the
// file, and only the cuts between whole fields with all or none of the
// weights load.
TEST(FrontendTest, TruncatedBinaryWithWeights) {
  TempDir tmp;
  Model tiny = withWeights(loadOk(kModels + "nin-tiny.pbtxt"));
  const std::string src = tmp.path("tiny.pb");
  ASSERT_TRUE(saveModel(tiny, src));
  const std::string full = readFile(src);
  ASSERT_GT(full.size(), 4u * 3000);
  const std::string path = tmp.path("cut.pb");
  FuzzTally tally;
  int loadedWithWeights = 0;
  for (size_t n = 0; n < full.size(); ++n) {
    tmp.write("cut.pb", full.substr(0, n));
    int before = tally.loaded;
    tally.check(path, "prefix " + std::to_string(n) + " of " + std::to_string(full.size()));
    if (tally.loaded != before && !loadModel(path)->weights.empty())
      ++loadedWithWeights;
  }
  EXPECT_EQ(tally.bad, 0) << tally.firstBad;
  EXPECT_LT(tally.slowestSeconds, 1.0);
  // Fields in number order: ... layers (4), weights (5), training (6),
  // description (7). Valid cuts: after the layers (no weights), after the
  // last weight, after training.
  EXPECT_EQ(tally.loaded, 3);
  EXPECT_EQ(loadedWithWeights, 2);
}

// Random byte strings as .pb: all refused with the file name, none loads.
TEST(FrontendTest, RandomBytes) {
  TempDir tmp;
  const std::string path = tmp.path("random.pb");
  std::mt19937 rng(20240611);
  FuzzTally tally;
  for (int c = 0; c < 3000; ++c) {
    std::string bytes(rng() % 513, '\0');
    for (char &ch : bytes)
      ch = static_cast<char>(rng() & 0xff);
    tmp.write("random.pb", bytes);
    tally.check(path, "random case " + std::to_string(c));
  }
  EXPECT_EQ(tally.bad, 0) << tally.firstBad;
  EXPECT_EQ(tally.loaded, 0);
  EXPECT_EQ(tally.refused, 3000);
  EXPECT_LT(tally.slowestSeconds, 1.0);
}

// Single-byte mutations of nin.pb and nin.pbtxt: valid model or error.
TEST(FrontendTest, SingleByteMutations) {
  TempDir tmp;
  std::mt19937 rng(7);
  for (const char *name : {"nin.pb", "nin.pbtxt"}) {
    SCOPED_TRACE(name);
    const std::string original = readFile(kModels + name);
    const std::string path = tmp.path(std::string("mutant-") + name);
    FuzzTally tally;
    for (int c = 0; c < 1000; ++c) {
      std::string bytes = original;
      size_t at = rng() % bytes.size();
      bytes[at] = static_cast<char>(rng() & 0xff);
      tmp.write(std::string("mutant-") + name, bytes);
      tally.check(path, "byte " + std::to_string(at) + " = " +
                            std::to_string(static_cast<unsigned char>(bytes[at])));
    }
    EXPECT_EQ(tally.bad, 0) << tally.firstBad;
    EXPECT_GT(tally.refused, 0);
    EXPECT_LT(tally.slowestSeconds, 1.0);
  }
}

// ONNX (compiler/frontend/OnnxImport.cpp): nin-tiny exported with weights,
// then single-byte mutations, truncations and random bytes as .onnx: each a
// valid model or an error naming the file, never a crash; the unmutated
// export reads back to the same layers and weights.
TEST(FrontendTest, OnnxMutations) {
  TempDir tmp;
  Expected<Model> tiny = loadModel(kModels + "nin-tiny.pbtxt");
  ASSERT_TRUE(tiny) << tiny.message();
  for (const ParamInfo &p : parameterList(*tiny)) {
    TensorData t{p.name, p.shape, std::vector<float>(p.numel())};
    for (size_t j = 0; j < t.data.size(); ++j)
      t.data[j] = float(j % 7) * 0.1f - 0.3f;
    tiny->weights.push_back(std::move(t));
  }
  const std::string good = tmp.path("tiny.onnx");
  ASSERT_TRUE(exportOnnx(*tiny, good));
  Expected<Model> back = loadModel(good);
  ASSERT_TRUE(back) << back.message();
  // The export writes a fused ReLU as Conv + Relu; the import fuses it back.
  ASSERT_EQ(back->layers.size(), tiny->layers.size());
  ASSERT_EQ(back->weights.size(), tiny->weights.size());
  for (size_t i = 0; i < back->weights.size(); ++i)
    EXPECT_EQ(back->weights[i].data, tiny->weights[i].data) << back->weights[i].name;

  const std::string original = readFile(good);
  const std::string path = tmp.path("mutant.onnx");
  std::mt19937 rng(16);
  FuzzTally tally;
  for (int c = 0; c < 1500; ++c) {
    std::string bytes = original;
    if (c % 5 == 4) {
      bytes.resize(rng() % bytes.size());
    } else {
      for (int k = 0, n = 1 + c % 3; k < n; ++k)
        bytes[rng() % bytes.size()] = static_cast<char>(rng() & 0xff);
    }
    tmp.write("mutant.onnx", bytes);
    tally.check(path, "mutant " + std::to_string(c));
  }
  for (int c = 0; c < 500; ++c) {
    std::string bytes(rng() % 513, '\0');
    for (char &ch : bytes)
      ch = static_cast<char>(rng() & 0xff);
    tmp.write("mutant.onnx", bytes);
    tally.check(path, "random " + std::to_string(c));
  }
  EXPECT_EQ(tally.bad, 0) << tally.firstBad;
  EXPECT_GT(tally.refused, 500);
  EXPECT_LT(tally.slowestSeconds, 1.0);
}

// Random printable text, and random sequences of the schema's own tokens
// (which get deeper into the parser and validator), as .pbtxt.
TEST(FrontendTest, RandomText) {
  TempDir tmp;
  const std::string path = tmp.path("random.pbtxt");
  std::mt19937 rng(11);
  FuzzTally tally;
  for (int c = 0; c < 1000; ++c) {
    std::string text(rng() % 513, ' ');
    for (char &ch : text)
      ch = rng() % 20 == 0 ? '\n' : static_cast<char>(0x20 + rng() % 95);
    tmp.write("random.pbtxt", text);
    tally.check(path, "printable case " + std::to_string(c));
  }
  const char *tokens[] = {
      "name:", "\"n\"", "input", "{", "}", "channels:", "height:", "width:", "num_classes:",
      "layers", "nin_block", "conv", "max_pool", "avg_pool", "global_avg_pool {}",
      "flatten {}", "dropout", "rate:", "out_channels:", "kernel_size:", "stride:",
      "padding:", "num_1x1:", "bias:", "true", "activation:", "RELU", "weights",
      "shape:", "data:", "[", "]", ",", "training", "sgd", "learning_rate:",
      "batch_size:", "seed:", "0", "1", "3", "-1", "224", "65537", "99999999999",
      "1e40", "nan", "inf", "0.5", "#", "\n", "<", ">", ";", "\"\\x\"", "\"\\377\""};
  const size_t nTokens = sizeof tokens / sizeof tokens[0];
  for (int c = 0; c < 1000; ++c) {
    std::string text;
    for (int t = 0, n = rng() % 80; t < n; ++t)
      text += std::string(tokens[rng() % nTokens]) + " ";
    tmp.write("random.pbtxt", text);
    tally.check(path, "token case " + std::to_string(c) + ": " + text);
  }
  EXPECT_EQ(tally.bad, 0) << tally.firstBad;
  EXPECT_LT(tally.slowestSeconds, 1.0);
}

// Fields the schema does not have are refused in binary, at any depth.
TEST(FrontendTest, UnknownBinaryFields) {
  TempDir tmp;
  const std::string nin = readFile(kModels + "nin.pb");
  struct Case { const char *what; std::string suffix; std::string expected; };
  // Field 99 varint 1 is tag (99 << 3 | 0) = 792 = 0x98 0x06, then 0x01.
  // Appending a singular message field (input, field 2, tag 0x12) merges it
  // into the existing one; appending a layer (field 4, tag 0x22) adds one.
  const Case cases[] = {
      {"top level", std::string("\x98\x06\x01", 3),
       "model: expected only fields of ninc.spec.Model, found unknown field number 99"},
      {"in input", std::string("\x12\x03\x98\x06\x01", 5),
       "model.input: expected only fields of ninc.spec.InputShape, found unknown field number 99"},
      {"in a new layer", std::string("\x22\x03\x98\x06\x01", 5),
       "model.layers[10]: expected only fields of ninc.spec.Layer, found unknown field number 99"},
      {"length-delimited", std::string("\x9a\x06\x02hi", 5),
       "model: expected only fields of ninc.spec.Model, found unknown field number 99"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.what);
    std::string path = tmp.write("unknown.pb", nin + c.suffix);
    Expected<Model> m = loadModel(path);
    ASSERT_FALSE(m);
    EXPECT_TRUE(startsWith(m.message(), path + ": error: " + c.expected)) << m.message();
  }
  // Only the field: the bytes alone, as the lit test has them.
  std::string alone = tmp.write("alone.pb", std::string("\x98\x06\x01", 3));
  Expected<Model> m = loadModel(alone);
  ASSERT_FALSE(m);
  EXPECT_NE(m.message().find("unknown field number 99"), std::string::npos) << m.message();
}

// Enum fields of proto3 are open: binary files can carry numbers the schema
// does not name. The validator refuses them for Conv2D.activation, and must
// do the same for Training.loss and Initializer.kind, or training would
// silently run a loss / initialiser the file did not ask for.
// (A regression test: loss and init.kind were once not checked.)
TEST(FrontendTest, UnknownEnumValuesInBinary) {
  TempDir tmp;
  const std::string nin = readFile(kModels + "nin.pb");
  struct Case { const char *what; std::string suffix; std::string field; };
  // Appending training (field 6, tag 0x32) merges into the existing one:
  // loss is its field 1 (0x08); init is field 5 (0x2a) with kind field 1.
  const Case cases[] = {
      {"activation", std::string("\x22\x0f\x0a\x04head\x52\x07\x08\x0a\x12\x01\x01\x30\x05", 17),
       "field 'activation'"},
      {"loss", std::string("\x32\x02\x08\x05", 4), "loss"},
      {"init.kind", std::string("\x32\x04\x2a\x02\x08\x07", 6), "init.kind"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.what);
    std::string path = tmp.write("enum.pb", nin + c.suffix);
    Expected<Model> m = loadModel(path);
    EXPECT_FALSE(m) << "an unknown enum value was accepted";
    if (!m) {
      EXPECT_TRUE(startsWith(m.message(), path + ": error: ") &&
                  m.message().find(c.field) != std::string::npos)
          << m.message();
    }
  }
}

// proto3 strings must be UTF-8: binary parsing refuses other bytes, the text
// parser does not. A text model whose description is Latin-1 must then be
// refused too, or else load, save and convert into a binary that loads.
// (A regression test: such a text once loaded, logged a protobuf error and
// then failed to save or convert consistently.)
TEST(FrontendTest, NonUtf8DescriptionIsConsistent) {
  TempDir tmp;
  std::string spec = readFile(kModels + "nin-tiny.pbtxt");
  const std::string from = "description: \"NiN structure";
  size_t at = spec.find(from);
  ASSERT_NE(at, std::string::npos);
  spec.replace(at, from.size(), "description: \"caf\xe9 NiN structure");
  std::string text = tmp.write("latin1.pbtxt", spec);
  Expected<Model> m = loadModel(text);
  if (!m) {
    EXPECT_TRUE(startsWith(m.message(), text + ":")) << m.message();
    return;
  }
  std::string saved = tmp.path("saved.pb"), converted = tmp.path("converted.pb");
  Status s = saveModel(*m, saved);
  EXPECT_TRUE(s) << s.message();
  Status c = convertModelFile(text, converted);
  ASSERT_TRUE(c) << c.message();
  Expected<Model> back = loadModel(converted);
  EXPECT_TRUE(back) << back.message();
}

// text -> binary -> text -> binary gives byte-identical binaries for every
// model in models/, and the first binary of nin.pbtxt is models/nin.pb.
TEST(FrontendTest, ConvertRoundTrip) {
  TempDir tmp;
  int converted = 0;
  for (const auto &entry : fs::directory_iterator(kModels)) {
    if (entry.path().extension() != ".pbtxt")
      continue;
    std::string stem = entry.path().stem().string();
    SCOPED_TRACE(stem);
    std::string b1 = tmp.path(stem + "-1.pb"), t2 = tmp.path(stem + "-2.pbtxt"),
                b2 = tmp.path(stem + "-2.pb");
    Status s = convertModelFile(entry.path().string(), b1);
    ASSERT_TRUE(s) << s.message();
    ASSERT_TRUE(convertModelFile(b1, t2));
    ASSERT_TRUE(convertModelFile(t2, b2));
    std::string bytes1 = readFile(b1);
    EXPECT_FALSE(bytes1.empty());
    EXPECT_EQ(bytes1, readFile(b2));
    expectSameModel(loadOk(t2), loadOk(entry.path().string()));
    if (stem == "nin") {
      EXPECT_EQ(bytes1, readFile(kModels + "nin.pb"));
    }
    ++converted;
  }
  EXPECT_EQ(converted, 5); // nin, nin-96, nin-ex2, nin-ex2-96, nin-tiny

  // Explicit formats override the names.
  ConvertOptions opts;
  opts.to = SpecFormat::Text;
  std::string odd = tmp.path("nin-as-text.pb");
  ASSERT_TRUE(convertModelFile(kModels + "nin.pb", odd, opts));
  expectSameModel(loadOk(odd, SpecFormat::Text), loadOk(kModels + "nin.pb"));

  // No extension and no explicit format: refused, nothing written.
  Status noExt = convertModelFile(kModels + "nin.pb", tmp.path("noext"));
  ASSERT_FALSE(noExt);
  EXPECT_TRUE(startsWith(noExt.message(), tmp.path("noext") + ": error: expected an output name"))
      << noExt.message();
  EXPECT_FALSE(fs::exists(tmp.path("noext")));
}

// Conversion output is complete or absent: failures leave nothing behind
// (not even a temporary) and do not touch an existing output.
TEST(FrontendTest, ConvertWritesAtomically) {
  TempDir tmp;
  std::string bad = tmp.write("bad.pbtxt", kStrideZeroModel);
  auto onlyFiles = [&](std::vector<std::string> expected) {
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(tmp.list(), expected);
  };

  std::string missingDir = tmp.path("no-such-dir/out.pb");
  Status s = convertModelFile(kModels + "nin.pbtxt", missingDir);
  ASSERT_FALSE(s);
  EXPECT_TRUE(startsWith(s.message(), missingDir + ": error: ")) << s.message();
  EXPECT_FALSE(fs::exists(tmp.path("no-such-dir")));
  onlyFiles({"bad.pbtxt"});

  std::string out = tmp.path("out.pb");
  s = convertModelFile(bad, out);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("field 'stride'"), std::string::npos) << s.message();
  onlyFiles({"bad.pbtxt"});

  // An existing output survives a failed conversion unchanged.
  tmp.write("out.pb", "old contents");
  EXPECT_FALSE(convertModelFile(bad, out));
  EXPECT_EQ(readFile(out), "old contents");

  // A directory in the way of the output: refused, no temporary left.
  fs::create_directory(tmp.path("dir.pb"));
  EXPECT_FALSE(convertModelFile(kModels + "nin.pbtxt", tmp.path("dir.pb")));
  onlyFiles({"bad.pbtxt", "dir.pb", "out.pb"});

  // Without validation the invalid model is written, and it is the same
  // invalid model (the binary load reports the same field).
  ConvertOptions keep;
  keep.validate = false;
  ASSERT_TRUE(convertModelFile(bad, out, keep));
  Expected<Model> reread = loadModel(out);
  ASSERT_FALSE(reread);
  EXPECT_EQ(reread.message(),
            out + ": error: layers[1] 'pool1' (max_pool): field 'stride': expected values in "
                  "1..1024, found 0");
  onlyFiles({"bad.pbtxt", "dir.pb", "out.pb"});
}

// saveModel writes the spec unchanged plus the weights; reloading from text
// or binary gives the same spec and bit-identical weights.
TEST(FrontendTest, SaveModelRoundTrip) {
  TempDir tmp;
  Model tiny = withWeights(loadOk(kModels + "nin-tiny.pbtxt"));
  std::vector<ParamInfo> params = parameterList(tiny);
  ASSERT_EQ(params.size(), 18u); // 9 convs, weight and bias each
  for (const char *name : {"tiny.pb", "tiny.pbtxt"}) {
    SCOPED_TRACE(name);
    std::string path = tmp.path(name);
    Status s = saveModel(tiny, path);
    ASSERT_TRUE(s) << s.message();
    Model back = loadOk(path);
    expectSameModel(back, tiny);
    EXPECT_EQ(back.specBytes, tiny.specBytes);
    ASSERT_EQ(back.weights.size(), params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const TensorData &w = back.weights[i];
      EXPECT_EQ(w.name, params[i].name);
      EXPECT_EQ(w.shape, params[i].shape);
      ASSERT_EQ(w.data.size(), tiny.weights[i].data.size()) << w.name;
      EXPECT_EQ(std::memcmp(w.data.data(), tiny.weights[i].data.data(), w.data.size() * 4), 0)
          << w.name << " is not bit-identical";
    }
  }
  // The extension chose the encoding.
  EXPECT_EQ(readFile(tmp.path("tiny.pbtxt")).find("name: \"nin_tiny\""), 0u);
  EXPECT_EQ(readFile(tmp.path("tiny.pb")).substr(0, 10), std::string("\x0a\x08nin_tiny", 10));

  // Without weights: the spec alone, which reloads without weights.
  Model bare = tiny;
  bare.weights.clear();
  ASSERT_TRUE(saveModel(bare, tmp.path("bare.pb")));
  EXPECT_TRUE(loadOk(tmp.path("bare.pb")).weights.empty());
  ASSERT_TRUE(convertModelFile(kModels + "nin-tiny.pbtxt", tmp.path("converted.pb")));
  EXPECT_EQ(readFile(tmp.path("bare.pb")), readFile(tmp.path("converted.pb")));

  // Into a missing directory: an error naming the path.
  Status missing = saveModel(tiny, tmp.path("none/x.pb"));
  ASSERT_FALSE(missing);
  EXPECT_TRUE(startsWith(missing.message(), tmp.path("none/x.pb") + ": error: "));
}

// A Model that did not come from loadModel has no spec to write back.
// (A regression test: an empty specBytes parses as an empty message, so
// saveModel once wrote a file with no name, input or layers.)
TEST(FrontendTest, SaveModelWithoutSpecFails) {
  TempDir tmp;
  Model handMade;
  handMade.name = "hand_made";
  std::string path = tmp.path("hand.pb");
  Status s = saveModel(handMade, path);
  EXPECT_FALSE(s) << "saveModel wrote a Model without a spec";
  if (!s) {
    EXPECT_EQ(s.message(), path + ": error: cannot save model 'hand_made': it carries no spec "
                                  "(was it read by loadModel?)");
  }
  EXPECT_FALSE(fs::exists(path));
}

// Weights whose shape does not match the layer are written but refused on
// reload, naming the tensor, the field and both shapes.
TEST(FrontendTest, SavedWrongShapeIsRejected) {
  TempDir tmp;
  Model tiny = withWeights(loadOk(kModels + "nin-tiny.pbtxt"));
  ASSERT_EQ(tiny.weights[0].shape, (Shape{8, 1, 5, 5}));
  tiny.weights[0].shape = {8, 1, 5, 4};
  tiny.weights[0].data.resize(160);
  // Binary: no line; text: the line of the weights entry, column 1.
  const struct { const char *name; const char *location; } cases[] = {
      {"wrong.pb", ""}, {"wrong.pbtxt", R"(:\d+:1)"}};
  for (const auto &c : cases) {
    SCOPED_TRACE(c.name);
    std::string path = tmp.path(c.name);
    ASSERT_TRUE(saveModel(tiny, path));
    Expected<Model> m = loadModel(path);
    ASSERT_FALSE(m);
    ASSERT_TRUE(startsWith(m.message(), path)) << m.message();
    std::string rest = m.message().substr(path.size());
    EXPECT_TRUE(std::regex_match(
        rest, std::regex(std::string(c.location) +
                         R"(: error: weights\[0\] 'block1\.0\.weight': field 'shape': )"
                         R"(expected \[8, 1, 5, 5\], found \[8, 1, 5, 4\])")))
        << m.message();
  }
}

// Weights are all or none, may be listed in any order, and each once.
TEST(FrontendTest, WeightsAllOrNoneAnyOrderOnce) {
  TempDir tmp;
  const std::string spec = readFile(kModels + "nin-tiny.pbtxt");
  Model tiny = withWeights(loadOk(kModels + "nin-tiny.pbtxt"));
  const std::vector<TensorData> &all = tiny.weights;
  ASSERT_EQ(all.size(), 18u);

  // Reverse order: loaded in parameterList order, data intact.
  std::vector<TensorData> reversed(all.rbegin(), all.rend());
  Model r = loadOk(tmp.write("reversed.pbtxt", spec + weightsText(reversed)));
  ASSERT_EQ(r.weights.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(r.weights[i].name, all[i].name);
    EXPECT_EQ(r.weights[i].shape, all[i].shape);
    EXPECT_EQ(std::memcmp(r.weights[i].data.data(), all[i].data.data(), all[i].data.size() * 4), 0)
        << all[i].name;
  }

  // One missing (block2.1.bias): refused, naming it.
  std::vector<TensorData> missing = all;
  missing.erase(missing.begin() + 9);
  ASSERT_EQ(all[9].name, "block2.1.bias");
  std::string p = tmp.write("missing.pbtxt", spec + weightsText(missing));
  Expected<Model> m = loadModel(p);
  ASSERT_FALSE(m);
  EXPECT_TRUE(startsWith(m.message(), p + ":")) << m.message();
  EXPECT_NE(m.message().find("no tensor named \"block2.1.bias\""), std::string::npos)
      << m.message();

  // A single tensor alone is not "none".
  p = tmp.write("one.pbtxt", spec + weightsText({all[0]}));
  m = loadModel(p);
  ASSERT_FALSE(m);
  EXPECT_NE(m.message().find("no tensor named \"block1.0.bias\""), std::string::npos)
      << m.message();

  // One given twice (also in binary): refused.
  std::vector<TensorData> twice = all;
  twice.push_back(all[1]);
  p = tmp.write("twice.pbtxt", spec + weightsText(twice));
  m = loadModel(p);
  ASSERT_FALSE(m);
  EXPECT_NE(m.message().find("weights[18] 'block1.0.bias': field 'name': expected each parameter "
                             "once, found \"block1.0.bias\" again"),
            std::string::npos)
      << m.message();
  ConvertOptions keep;
  keep.validate = false;
  ASSERT_TRUE(convertModelFile(p, tmp.path("twice.pb"), keep));
  m = loadModel(tmp.path("twice.pb"));
  ASSERT_FALSE(m);
  EXPECT_TRUE(startsWith(m.message(), tmp.path("twice.pb") + ": error: weights[18]"))
      << m.message();
}

} // namespace
