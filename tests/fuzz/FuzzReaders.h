//===- tests/fuzz/FuzzReaders.h - One fuzz entry per reader -----*- C++ -*-===//
//
// What each fuzz target does with one input, as functions: Fuzzer.cpp makes
// one libFuzzer target of each (NINC_FUZZ_READER), and the unit test
// FuzzRegressionTest runs every finding kept in tests/fuzz/regressions/
// through the same function. Each reader must return its data or an error
// naming the file; never crash, hang, leak or allocate more than the file
// justifies (libFuzzer's -rss_limit_mb and -malloc_limit_mb catch that).
//
//   model-text, model-binary, model-onnx   loadModel (compiler/frontend)
//   weights   --weights FILE (ninc's .pb model files, the wire reader)
//   state     --resume: a checkpoint's .state beside a valid model file
//   idx       Fashion-MNIST IDX images + labels, raw or gzip (first 4 bytes:
//             the images file's length, the rest the labels)
//   npz       --train-data x.npz
//   npy       --input x.npy
//   image     --train-data FOLDER: one PNG/JPEG in one class folder
//
//===----------------------------------------------------------------------===//
#ifndef NINC_TESTS_FUZZ_FUZZREADERS_H
#define NINC_TESTS_FUZZ_FUZZREADERS_H

#include "compiler/frontend/Frontend.h"
#include "compiler/model/Model.h"
#include "runtime/data/Datasets.h"
#include "runtime/data/FashionMnist.h"
#include "runtime/program/Checkpoint.h"
#include "runtime/program/Descriptor.h"
#include "runtime/program/Weights.h"
#include "runtime/support/Npy.h"
#include "tests/fuzz/FuzzFile.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <sys/stat.h>

namespace ninc::fuzz {

/// A small model's descriptor: a 3x3 conv (weight, bias) and a 1x1 one.
inline const rt::ModelDescriptor &descriptor() {
  static const rt::ModelDescriptor d = [] {
    rt::ModelDescriptor m;
    m.model = "fuzz";
    m.batch = 2;
    m.channels = 1;
    m.height = m.width = 8;
    m.classes = 4;
    m.params = rt::layoutBlob({{"c1.weight", {4, 1, 3, 3}},
                               {"c1.bias", {4}},
                               {"c2.weight", {4, 4, 1, 1}},
                               {"c2.bias", {4}}},
                              m.blobSize);
    return m;
  }();
  return d;
}

template <typename T> void check(const Expected<T> &result, const std::string &path) {
  if (!result)
    expectNames(result.message(), path);
}

inline void model(const uint8_t *data, size_t size, SpecFormat format, const char *name) {
  std::string path = writeInput(name, data, size);
  check(loadModel(path, format), path);
}

inline void weights(const uint8_t *data, size_t size) {
  std::string path = scratchDir() + "/weights.pb";
  check(rt::parseWeights(data, size, path, descriptor()), path);
}

inline void state(const uint8_t *data, size_t size) {
  // A valid checkpoint's model file once; the input is its .state.
  static const std::string path = [] {
    std::string p = scratchDir() + "/checkpoint.pb";
    std::vector<float> weights(descriptor().blobSize, 0.5f);
    rt::TrainState state;
    state.velocity.assign(descriptor().blobSize, 0.0f);
    if (Status s = rt::saveCheckpoint(p, "", descriptor(), weights, state); !s) {
      std::fprintf(stderr, "%s\n", s.message().c_str());
      std::abort();
    }
    // Seeds for the weights and state targets: the same checkpoint written
    // to the folder NINC_FUZZ_SEED_OUT names (run.sh).
    if (const char *out = std::getenv("NINC_FUZZ_SEED_OUT"))
      if (!rt::saveCheckpoint(std::string(out) + "/checkpoint.pb", "", descriptor(), weights, state))
        std::abort();
    return p;
  }();
  writeInput("checkpoint.pb.state", data, size);
  check(rt::loadCheckpoint(path, descriptor()), path);
}

inline void idx(const uint8_t *data, size_t size) {
  uint32_t split = 0;
  if (size >= 4)
    std::memcpy(&split, data, 4);
  const uint8_t *rest = data + std::min<size_t>(size, 4);
  size_t restSize = size - std::min<size_t>(size, 4);
  size_t first = restSize ? split % (restSize + 1) : 0;
  std::string images = writeInput("images-idx3-ubyte", rest, first);
  std::string labels = writeInput("labels-idx1-ubyte", rest + first, restSize - first);
  Expected<ninc::data::Dataset> ds = ninc::data::loadIdx(images, labels);
  if (!ds && ds.message().find(images) == std::string::npos)
    expectNames(ds.message(), labels);
}

inline void npz(const uint8_t *data, size_t size) {
  std::string path = writeInput("data.npz", data, size);
  ninc::data::DataShape want;
  want.classes = 0;
  check(ninc::data::loadNpz(path, want), path);
}

inline void npy(const uint8_t *data, size_t size) {
  std::string bytes(reinterpret_cast<const char *>(data), size);
  Expected<NpyView> view = parseNpy(bytes, "input.npy");
  if (view) {
    // The view must lie inside the bytes it came from.
    if (view->data < bytes.data() || view->data + view->bytes > bytes.data() + bytes.size())
      std::abort();
  } else {
    expectNames(view.message(), "input.npy");
  }
}

inline void image(const uint8_t *data, size_t size) {
  static const std::string folder = [] {
    std::string f = scratchDir() + "/images";
    mkdir(f.c_str(), 0700);
    mkdir((f + "/cls").c_str(), 0700);
    return f;
  }();
  writeInput("images/cls/x.png", data, size);
  ninc::data::DataShape want;
  want.classes = 1;
  check(ninc::data::loadImageFolder(folder, want), folder);
}

/// Every reader by its target's name.
inline const std::map<std::string, std::function<void(const uint8_t *, size_t)>> &readers() {
  static const std::map<std::string, std::function<void(const uint8_t *, size_t)>> all = {
      {"model-text", [](const uint8_t *d, size_t n) { model(d, n, SpecFormat::Text, "model.pbtxt"); }},
      {"model-binary", [](const uint8_t *d, size_t n) { model(d, n, SpecFormat::Binary, "model.pb"); }},
      {"model-onnx", [](const uint8_t *d, size_t n) { model(d, n, SpecFormat::Onnx, "model.onnx"); }},
      {"weights", weights}, {"state", state}, {"idx", idx},
      {"npz", npz}, {"npy", npy}, {"image", image}};
  return all;
}

} // namespace ninc::fuzz

#endif // NINC_TESTS_FUZZ_FUZZREADERS_H
