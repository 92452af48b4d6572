//===- tests/unit/RuntimeTest.cpp - Runtime of compiled programs ----------===//
//
// The descriptor round-trips; weights are repacked OIHW -> HWCF correctly;
// the runtime's seeded initialisation is bit-identical to the reference
// interpreter's; weights read from a model file with the runtime's small
// wire-format reader equal what the frontend wrote; bad weight files fail
// with the file named.
//
//===----------------------------------------------------------------------===//

#include "compiler/frontend/Frontend.h"
#include "compiler/model/Program.h"
#include "compiler/reference/Interpreter.h"
#include "runtime/program/Descriptor.h"
#include "runtime/program/Weights.h"
#include "tests/unit/TestSupport.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace ninc;
using ninc::test::TempDir;

namespace {

const std::string kModels = NINC_SOURCE_DIR "/models/";


/// blob value of spec element (o, i, y, x) of an HWCF slot.
float hwcf(const std::vector<float> &blob, const rt::ParamSlot &s, int64_t o, int64_t i,
           int64_t y, int64_t x) {
  return blob[s.offset + ((y * s.shape[3] + x) * s.shape[1] + i) * s.shape[0] + o];
}

} // namespace

// formatDescriptor/parseDescriptor are inverse; bad records name the line.
TEST(RuntimeTest, DescriptorRoundTrip) {
  Expected<Model> m = loadModel(kModels + "nin-tiny.pbtxt");
  ASSERT_TRUE(m) << m.message();
  rt::ModelDescriptor d = describeModel(*m, 4);
  d.arenaBytes = 4096;
  d.packedWeightBytes = 1024;
  Expected<rt::ModelDescriptor> back = rt::parseDescriptor(rt::formatDescriptor(d));
  ASSERT_TRUE(back) << back.message();
  EXPECT_EQ(back->model, "nin_tiny");
  EXPECT_EQ(back->arenaBytes, 4096);
  EXPECT_EQ(back->packedWeightBytes, 1024);
  EXPECT_EQ(back->batch, 4);
  EXPECT_EQ(back->height, 32);
  EXPECT_EQ(back->seed, 7u);
  ASSERT_EQ(back->params.size(), d.params.size());
  for (size_t i = 0; i < d.params.size(); ++i) {
    EXPECT_EQ(back->params[i].name, d.params[i].name);
    EXPECT_EQ(back->params[i].offset, d.params[i].offset);
    EXPECT_EQ(back->params[i].layout, d.params[i].layout);
    EXPECT_EQ(back->params[i].shape, d.params[i].shape);
  }
  Expected<rt::ModelDescriptor> bad =
      rt::parseDescriptor("ninc-descriptor 1\nbatch 4\nweights 8\nparam w 4 plain 100\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.message().find("line 4"), std::string::npos) << bad.message();
  EXPECT_FALSE(rt::parseDescriptor("model x\n"));
  // The kept packed weights are part of the arena.
  d.packedWeightBytes = 8192;
  EXPECT_FALSE(rt::parseDescriptor(rt::formatDescriptor(d)));
}

// Every element lands where HWCF says.
TEST(RuntimeTest, PackOihwToHwcf) {
  rt::ParamSlot slot{"w", 3, "HWCF", {2, 3, 2, 2}};
  std::vector<float> spec(slot.numel());
  for (size_t i = 0; i < spec.size(); ++i)
    spec[i] = float(i);
  std::vector<float> blob(3 + slot.numel(), -1.0f);
  rt::packParam(slot, spec.data(), blob.data());
  EXPECT_EQ(blob[0], -1.0f);
  for (int64_t o = 0; o < 2; ++o)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t y = 0; y < 2; ++y)
        for (int64_t x = 0; x < 2; ++x)
          EXPECT_EQ(hwcf(blob, slot, o, i, y, x), spec[((o * 3 + i) * 2 + y) * 2 + x]);
}

// Compiled programs start from exactly the interpreter's weights.
TEST(RuntimeTest, InitialWeightsMatchInterpreter) {
  Expected<Model> m = loadModel(kModels + "nin-tiny.pbtxt");
  ASSERT_TRUE(m) << m.message();
  rt::ModelDescriptor d = describeModel(*m, 4);
  std::vector<float> blob = rt::initialWeights(d);
  reference::Params<float> ref = reference::initParams<float>(*m, m->training.seed);
  std::vector<float> packed(d.blobSize, 0.0f);
  for (size_t p = 0; p < d.params.size(); ++p)
    rt::packParam(d.params[p], ref[p].data(), packed.data());
  ASSERT_EQ(blob.size(), packed.size());
  EXPECT_EQ(0, std::memcmp(blob.data(), packed.data(), blob.size() * sizeof(float)));
  EXPECT_NE(blob[d.params[0].offset], 0.0f);
}

// Weights saved by the frontend read back through the runtime's reader.
TEST(RuntimeTest, LoadWeightsFromModelFile) {
  TempDir tmp;
  Expected<Model> m = loadModel(kModels + "nin-tiny.pbtxt");
  ASSERT_TRUE(m) << m.message();
  rt::ModelDescriptor d = describeModel(*m, 4);
  reference::Params<float> params = reference::initParams<float>(*m, 12345);
  m->weights = reference::paramsToTensors(*m, params);
  ASSERT_TRUE(saveModel(*m, tmp.path("w.pb")));
  Expected<std::vector<float>> blob = rt::loadWeights(tmp.path("w.pb"), d);
  ASSERT_TRUE(blob) << blob.message();
  std::vector<float> want(d.blobSize, 0.0f);
  for (size_t p = 0; p < d.params.size(); ++p)
    rt::packParam(d.params[p], params[p].data(), want.data());
  EXPECT_EQ(0, std::memcmp(blob->data(), want.data(), want.size() * sizeof(float)));
  // The same weights from a text model file (runtime/program/WeightFiles.cpp).
  ASSERT_TRUE(saveModel(*m, tmp.path("w.pbtxt")));
  Expected<std::vector<float>> text = rt::loadWeights(tmp.path("w.pbtxt"), d);
  ASSERT_TRUE(text) << text.message();
  EXPECT_EQ(0, std::memcmp(text->data(), want.data(), want.size() * sizeof(float)));

  // A model without weights (binary and text), garbage and a missing file.
  ASSERT_TRUE(convertModelFile(kModels + "nin-tiny.pbtxt", tmp.path("none.pb")));
  auto expectError = [&](const std::string &path, const std::string &what) {
    Expected<std::vector<float>> r = rt::loadWeights(path, d);
    ASSERT_FALSE(r) << path;
    EXPECT_NE(r.message().find(path), std::string::npos) << r.message();
    EXPECT_NE(r.message().find(what), std::string::npos) << r.message();
  };
  expectError(tmp.path("none.pb"), "found none");
  expectError(kModels + "nin-tiny.pbtxt", "found none");
  expectError(tmp.write("weights.pbtxt", "weights { name: \"x\" shape: [1] data: [abc] }"),
              "weights 'x': expected a number in 'data', found 'abc'");
  expectError(tmp.write("junk.onnx", std::string("\xff\xff\xff\xff\xff", 5)), "not protobuf");
  expectError(tmp.write("junk.pb", std::string("\xff\xff\xff\xff\xff", 5)), "not protobuf");
  expectError(tmp.path("missing.pb"), "cannot open");
  // Weights of another model (the d2l NiN) do not fit.
  Expected<Model> other = loadModel(kModels + "nin-96.pbtxt");
  ASSERT_TRUE(other);
  other->weights = reference::paramsToTensors(*other, reference::initParams<float>(*other, 1));
  ASSERT_TRUE(saveModel(*other, tmp.path("other.pb")));
  expectError(tmp.path("other.pb"), "weights 'block1.0.weight': expected 200 values");
}
