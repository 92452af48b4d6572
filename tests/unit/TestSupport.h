//===- tests/unit/TestSupport.h - Helpers shared by the unit tests -*- C++ -*-===//
//
// A self-removing temporary directory, and builders for small in-memory
// models (one spec layer per layer) for the interpreter and gradient tests.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_TESTS_UNIT_TESTSUPPORT_H
#define NINC_TESTS_UNIT_TESTSUPPORT_H

#include "compiler/model/Shapes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace ninc::test {

/// A fresh directory under the system temp folder, removed on destruction.
class TempDir {
public:
  TempDir() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("ninc-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
            std::to_string(rd()));
    std::filesystem::create_directories(dir_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;

  /// The path of `name` inside this directory.
  std::string path(const std::string &name) const { return (dir_ / name).string(); }
  std::string dir() const { return dir_.string(); }

  /// Writes `bytes` to `name` in this directory (replacing it); returns the path.
  std::string write(const std::string &name, const std::string &bytes) const {
    std::string p = path(name);
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    EXPECT_TRUE(out.good()) << p;
    return p;
  }

  /// Names of the files now in the directory, sorted.
  std::vector<std::string> list() const {
    std::vector<std::string> names;
    for (const auto &e : std::filesystem::directory_iterator(dir_))
      names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

private:
  std::filesystem::path dir_;
};

inline Layer convLayer(int64_t out, HW kernel, HW stride, HW padding, bool bias, bool relu) {
  Layer l;
  l.kind = OpKind::Conv2D;
  l.conv.outChannels = out;
  l.conv.kernel = kernel;
  l.conv.stride = stride;
  l.conv.padding = padding;
  l.conv.bias = bias;
  l.conv.relu = relu;
  return l;
}

inline Layer poolLayer(OpKind kind, HW kernel, HW stride, HW padding) {
  Layer l;
  l.kind = kind;
  l.pool = Pool2DAttrs{kernel, stride, padding};
  return l;
}

inline Layer opLayer(OpKind kind, float dropoutRate = 0) {
  Layer l;
  l.kind = kind;
  l.dropoutRate = dropoutRate;
  return l;
}

/// A model over [c, h, w] images with one spec layer per layer (named l0,
/// l1, ...), checked against the shape rules.
inline Model makeModel(int64_t c, int64_t h, int64_t w, int64_t classes,
                       std::vector<Layer> layers) {
  Model m;
  m.name = "test";
  m.channels = c;
  m.height = h;
  m.width = w;
  m.numClasses = classes;
  m.layers = std::move(layers);
  for (int i = 0; i < int(m.layers.size()); ++i) {
    Layer &l = m.layers[i];
    l.name = "l" + std::to_string(i);
    l.specIndex = i;
    m.specLayers.push_back(SpecLayer{l.name, opKindName(l.kind), i, i + 1});
  }
  Expected<std::vector<Shape>> shapes = inferShapes(m, 1);
  if (!shapes)
    ADD_FAILURE() << shapes.message();
  return m;
}

} // namespace ninc::test

#endif // NINC_TESTS_UNIT_TESTSUPPORT_H
