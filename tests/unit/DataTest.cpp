//===- tests/unit/DataTest.cpp - Fashion-MNIST data layer tests -----------===//
//
// Checks runtime/data against the real Fashion-MNIST files (numbers such as
// pixel sums were computed independently with Python's gzip module), against
// hand-made corrupt IDX files, against hand-derived PyTorch bilinear values,
// and the shuffle against an independent Python port of support/Random.h.
//
//===----------------------------------------------------------------------===//

#include "runtime/data/FashionMnist.h"

#include "tests/unit/TestSupport.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;
using namespace ninc;
using namespace ninc::data;

using ninc::test::TempDir;

namespace {

using Bytes = std::vector<uint8_t>;


void writeRaw(const std::string &path, const Bytes &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

void writeGzip(const std::string &path, const Bytes &bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
  }
  ASSERT_EQ(gzclose(f), Z_OK);
}

Bytes readRaw(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

/// Decompresses a gzip file with zlib, independently of the loader.
Bytes gunzip(const std::string &path) {
  Bytes out;
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    return out;
  uint8_t buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0)
    out.insert(out.end(), buf, buf + n);
  gzclose(f);
  return out;
}

void putBigEndian(Bytes &b, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    b.push_back(static_cast<uint8_t>(v >> shift));
}

/// An IDX3 image file: header claiming `count` x rows x cols, then `pixels`.
Bytes idxImages(uint32_t count, uint32_t rows, uint32_t cols,
                const Bytes &pixels, uint32_t magic = 0x00000803) {
  Bytes b;
  putBigEndian(b, magic);
  putBigEndian(b, count);
  putBigEndian(b, rows);
  putBigEndian(b, cols);
  b.insert(b.end(), pixels.begin(), pixels.end());
  return b;
}

/// An IDX1 label file: header claiming `count`, then `labels`.
Bytes idxLabels(uint32_t count, const Bytes &labels,
                uint32_t magic = 0x00000801) {
  Bytes b;
  putBigEndian(b, magic);
  putBigEndian(b, count);
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

/// `n` bytes of fixed pseudo-random data (poorly compressible on purpose).
Bytes noise(size_t n, uint32_t seed = 1) {
  std::mt19937 gen(seed);
  Bytes b(n);
  for (auto &x : b)
    x = static_cast<uint8_t>(gen());
  return b;
}

/// Labels 0,1,..,9,0,1,.. of length n.
Bytes cyclicLabels(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i)
    b[i] = static_cast<uint8_t>(i % 10);
  return b;
}

std::string dataFile(const std::string &name) {
  return (fs::path(NINC_TEST_DATA_DIR) / name).string();
}

/// The test split, loaded once for all tests that only read it.
const Dataset &testSplit() {
  static const Expected<Dataset> ds =
      loadFashionMnist(NINC_TEST_DATA_DIR, Split::Test);
  if (!ds) {
    ADD_FAILURE() << ds.message();
    std::abort();
  }
  return *ds;
}

std::vector<int64_t> perClassCounts(const Dataset &ds) {
  std::vector<int64_t> counts(kNumClasses, 0);
  for (uint8_t l : ds.labels)
    ++counts.at(l);
  return counts;
}

uint64_t pixelSum(const Bytes &p, size_t begin, size_t end) {
  return std::accumulate(p.begin() + begin, p.begin() + end, uint64_t(0));
}

/// A small, valid pair of IDX files in `dir` (3 images of 2x2), as gzip.
struct SmallPair {
  std::string images, labels;
};
SmallPair writeSmallPair(const TempDir &dir) {
  SmallPair p{dir.path("img.gz"), dir.path("lbl.gz")};
  writeGzip(p.images, idxImages(3, 2, 2, noise(12)));
  writeGzip(p.labels, idxLabels(3, {7, 0, 9}));
  return p;
}

/// Expects `r` to be an error whose message contains every one of `parts`.
template <typename T>
void expectError(const Expected<T> &r, const std::vector<std::string> &parts) {
  ASSERT_FALSE(r) << "expected an error containing '" << parts.front() << "'";
  for (const std::string &part : parts)
    EXPECT_NE(r.message().find(part), std::string::npos)
        << "message: " << r.message() << "\nmissing: " << part;
}

//===----------------------------------------------------------------------===//
// The real data
//===----------------------------------------------------------------------===//

TEST(FashionMnist, TestSplitHasTenThousandBalancedImages) {
  const Dataset &ds = testSplit();
  EXPECT_EQ(ds.count, 10000);
  EXPECT_EQ(ds.rows, 28);
  EXPECT_EQ(ds.cols, 28);
  ASSERT_EQ(ds.pixels.size(), 10000u * 28 * 28);
  ASSERT_EQ(ds.labels.size(), 10000u);
  EXPECT_EQ(perClassCounts(ds), std::vector<int64_t>(10, 1000));
  EXPECT_EQ(ds.labels[0], 9);
  EXPECT_STREQ(kFashionMnistClasses[ds.labels[0]], "ankle boot");
  EXPECT_EQ(Bytes(ds.labels.begin(), ds.labels.begin() + 10),
            (Bytes{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}));
  // Sums computed with Python's gzip module, independently of zlib's gz*.
  EXPECT_EQ(pixelSum(ds.pixels, 0, ds.pixels.size()), 573469082u);
  EXPECT_EQ(pixelSum(ds.pixels, 0, 784), 33456u);
  EXPECT_EQ(pixelSum(ds.pixels, ds.pixels.size() - 784, ds.pixels.size()),
            24390u);
  EXPECT_NE(ds.source.find("t10k-images-idx3-ubyte"), std::string::npos);
  EXPECT_NE(ds.source.find("t10k-labels-idx1-ubyte"), std::string::npos);
}

TEST(FashionMnist, TrainSplitHasSixtyThousandBalancedImages) {
  Expected<Dataset> ds = loadFashionMnist(NINC_TEST_DATA_DIR, Split::Train);
  ASSERT_TRUE(ds) << ds.message();
  EXPECT_EQ(ds->count, 60000);
  EXPECT_EQ(ds->rows, 28);
  EXPECT_EQ(ds->cols, 28);
  ASSERT_EQ(ds->pixels.size(), 60000u * 28 * 28);
  EXPECT_EQ(perClassCounts(*ds), std::vector<int64_t>(10, 6000));
  EXPECT_EQ(ds->labels[0], 9);
  EXPECT_EQ(pixelSum(ds->pixels, 0, ds->pixels.size()), 3431114169u);
  EXPECT_EQ(pixelSum(ds->pixels, 0, 784), 76247u);
}

TEST(FashionMnist, RawFilesLoadLikeGzipOnes) {
  TempDir dir;
  for (const char *name :
       {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
    Bytes raw = gunzip(dataFile(std::string(name) + ".gz"));
    ASSERT_GT(raw.size(), 16u) << name;
    writeRaw(dir.path(name), raw);
  }
  // Only the uncompressed names exist here, so this also tests the fallback.
  Expected<Dataset> raw = loadFashionMnist(dir.dir(), Split::Test);
  ASSERT_TRUE(raw) << raw.message();
  const Dataset &gz = testSplit();
  EXPECT_EQ(raw->count, gz.count);
  EXPECT_EQ(raw->rows, gz.rows);
  EXPECT_EQ(raw->cols, gz.cols);
  EXPECT_TRUE(raw->pixels == gz.pixels);
  EXPECT_TRUE(raw->labels == gz.labels);
  EXPECT_EQ(raw->source.find(".gz"), std::string::npos) << raw->source;
}

TEST(FashionMnist, ClassNamesAreD2lNames) {
  const std::vector<std::string> expected = {
      "t-shirt", "trouser", "pullover", "dress", "coat",
      "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot"};
  for (int i = 0; i < kNumClasses; ++i)
    EXPECT_EQ(kFashionMnistClasses[i], expected[i]) << i;
}

TEST(FashionMnist, DefaultDataDirHonoursEnvironment) {
  const char *old = std::getenv("NINC_DATA_DIR");
  std::string saved = old ? old : "";
  ::setenv("NINC_DATA_DIR", "/some/where", 1);
  EXPECT_EQ(defaultDataDir(), "/some/where");
  ::setenv("NINC_DATA_DIR", "", 1); // Empty means unset.
  EXPECT_EQ(defaultDataDir(), NINC_TEST_DATA_DIR);
  ::unsetenv("NINC_DATA_DIR");
  EXPECT_EQ(defaultDataDir(), NINC_TEST_DATA_DIR);
  if (old)
    ::setenv("NINC_DATA_DIR", saved.c_str(), 1);
}

//===----------------------------------------------------------------------===//
// Missing and corrupt inputs
//===----------------------------------------------------------------------===//

TEST(FashionMnistErrors, MissingDirectorySuggestsInstall) {
  TempDir dir;
  const std::string missing = dir.path("no-such-dir");
  expectError(loadFashionMnist(missing, Split::Test),
              {missing, "does not exist",
               "apt-get install dataset-fashion-mnist", "--data-dir"});
}

TEST(FashionMnistErrors, MissingFileNamesBothCandidates) {
  TempDir dir;
  expectError(loadFashionMnist(dir.dir(), Split::Train),
              {dir.path("train-images-idx3-ubyte.gz"),
               dir.path("train-images-idx3-ubyte") + ")", "not found",
               "apt-get install dataset-fashion-mnist", "--data-dir"});
  // With the images present, the labels are the missing piece.
  writeGzip(dir.path("t10k-images-idx3-ubyte.gz"), idxImages(1, 1, 1, {0}));
  expectError(loadFashionMnist(dir.dir(), Split::Test),
              {dir.path("t10k-labels-idx1-ubyte.gz"), "not found"});
}

TEST(FashionMnistErrors, NonexistentFile) {
  TempDir dir;
  SmallPair p = writeSmallPair(dir);
  const std::string missing = dir.path("missing.gz");
  expectError(loadIdx(missing, p.labels),
              {missing, "cannot open", "No such file or directory"});
  expectError(loadIdx(p.images, missing),
              {missing, "cannot open", "No such file or directory"});
}

TEST(FashionMnistErrors, EmptyAndShortHeaders) {
  TempDir dir;
  SmallPair p = writeSmallPair(dir);
  const std::string empty = dir.path("empty");
  writeRaw(empty, {});
  expectError(loadIdx(empty, p.labels),
              {empty, "expected a 16-byte IDX image header, found 0 bytes"});
  const std::string emptyGz = dir.path("empty.gz");
  writeGzip(emptyGz, {});
  expectError(loadIdx(p.images, emptyGz),
              {emptyGz, "expected a 8-byte IDX label header, found 0 bytes"});
  const std::string shortHeader = dir.path("short");
  Bytes header = idxImages(3, 2, 2, {});
  header.resize(10);
  writeRaw(shortHeader, header);
  expectError(loadIdx(shortHeader, p.labels),
              {shortHeader, "expected a 16-byte IDX image header, found 10"});
}

TEST(FashionMnistErrors, BadMagic) {
  TempDir dir;
  SmallPair p = writeSmallPair(dir);
  // Swapped arguments: each file has the other kind's magic.
  expectError(loadIdx(p.labels, p.images),
              {p.labels, "expected IDX magic 0x00000803 (unsigned byte, 3 "
                         "dimensions), found 0x00000801"});
  const std::string badLabels = dir.path("bad-labels.gz");
  writeGzip(badLabels, idxLabels(3, {1, 2, 3}, 0x00000803));
  expectError(loadIdx(p.images, badLabels),
              {badLabels, "expected IDX magic 0x00000801 (unsigned byte, 1 "
                          "dimension), found 0x00000803"});
}

TEST(FashionMnistErrors, DimensionsOutOfBounds) {
  TempDir dir;
  SmallPair p = writeSmallPair(dir);
  const std::string zeroRows = dir.path("zero-rows.gz");
  writeGzip(zeroRows, idxImages(3, 0, 2, {}));
  expectError(loadIdx(zeroRows, p.labels),
              {zeroRows, "expected rows between 1 and 4096, found 0"});
  const std::string wide = dir.path("wide.gz");
  writeGzip(wide, idxImages(3, 2, 4097, {}));
  expectError(loadIdx(wide, p.labels),
              {wide, "expected columns between 1 and 4096, found 4097"});
  const std::string noLabels = dir.path("no-labels.gz");
  writeGzip(noLabels, idxLabels(0, {}));
  expectError(
      loadIdx(p.images, noLabels),
      {noLabels, "expected label count between 1 and 10000000, found 0"});
}

TEST(FashionMnistErrors, TruncatedPixelData) {
  TempDir dir;
  // The header claims 100 images of 28x28; only 10 follow.
  const std::string images = dir.path("images.gz");
  writeGzip(images, idxImages(100, 28, 28, noise(10 * 784)));
  const std::string labels = dir.path("labels.gz");
  writeGzip(labels, idxLabels(100, cyclicLabels(100)));
  expectError(
      loadIdx(images, labels),
      {images, "expected 78400 pixel bytes after the header, found 7840"});
}

TEST(FashionMnistErrors, TruncatedLabelData) {
  TempDir dir;
  const std::string images = dir.path("images.gz");
  writeGzip(images, idxImages(3, 2, 2, noise(12)));
  const std::string labels = dir.path("labels");
  writeRaw(labels, idxLabels(3, {1, 2}));
  expectError(loadIdx(images, labels),
              {labels, "expected 3 label bytes after the header, found 2"});
}

TEST(FashionMnistErrors, HugeCountIsRejectedBeforeAllocating) {
  TempDir dir;
  SmallPair p = writeSmallPair(dir);
  const std::string absurd = dir.path("absurd.gz");
  writeGzip(absurd, idxImages(0xFFFFFFFFu, 28, 28, noise(100)));
  expectError(
      loadIdx(absurd, p.labels),
      {absurd,
       "expected image count between 1 and 10000000, found 4294967295 (the header asks for "
       "3.1 TiB)"});

  // Within every bound, but claiming 10^7 * 4096 * 4096 bytes (~168 TB, more
  // than the address space): allocating up front would throw or abort.
  const std::string lying = dir.path("lying.gz");
  writeGzip(lying, idxImages(10'000'000, 4096, 4096, noise(100)));
  const std::string labels = dir.path("labels.gz");
  writeGzip(labels, idxLabels(10'000'000, {}));
  const auto start = std::chrono::steady_clock::now();
  Expected<Dataset> r = loadIdx(lying, labels);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  expectError(r, {lying, "expected 167772160000000 pixel bytes after the "
                         "header, found 100"});
  EXPECT_LT(seconds, 1.0);
}

TEST(FashionMnistErrors, LabelOutOfRange) {
  TempDir dir;
  const std::string images = dir.path("images.gz");
  writeGzip(images, idxImages(8, 2, 2, noise(32)));
  const std::string labels = dir.path("labels.gz");
  writeGzip(labels, idxLabels(8, {0, 1, 2, 3, 9, 17, 4, 200}));
  expectError(loadIdx(images, labels),
              {labels, "label 17 at index 5 is not a class (expected 0..9)"});
  // 10 is the first value past the classes.
  writeGzip(labels, idxLabels(8, {9, 0, 10, 1, 2, 3, 4, 5}));
  expectError(loadIdx(images, labels),
              {labels, "label 10 at index 2 is not a class (expected 0..9)"});
}

TEST(FashionMnistErrors, CountMismatchNamesBothFiles) {
  TempDir dir;
  const std::string images = dir.path("images.gz");
  writeGzip(images, idxImages(10, 2, 2, noise(40)));
  const std::string labels = dir.path("labels.gz");
  writeGzip(labels, idxLabels(9, cyclicLabels(9)));
  expectError(loadIdx(images, labels),
              {images, labels, "has 10 images", "has 9 labels"});
}

TEST(FashionMnistErrors, CorruptGzipStream) {
  TempDir dir;
  SmallPair p = writeSmallPair(dir);
  // A valid gzip member header, then bytes that are not a deflate stream
  // (0xFF starts a block of the reserved type 3).
  Bytes bytes = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  bytes.insert(bytes.end(), 64, 0xFF);
  const std::string corrupt = dir.path("corrupt.gz");
  writeRaw(corrupt, bytes);
  expectError(loadIdx(corrupt, p.labels),
              {corrupt, "corrupt gzip data", "invalid block type"});
}

TEST(FashionMnistErrors, TruncatedGzipStream) {
  TempDir dir;
  const std::string full = dir.path("full.gz");
  writeGzip(full, idxImages(50, 28, 28, noise(50 * 784)));
  Bytes compressed = readRaw(full);
  ASSERT_GT(compressed.size(), 30000u); // Noise does not compress.
  compressed.resize(compressed.size() / 2);
  const std::string cut = dir.path("cut.gz");
  writeRaw(cut, compressed);
  const std::string labels = dir.path("labels.gz");
  writeGzip(labels, idxLabels(50, cyclicLabels(50)));
  ASSERT_TRUE(loadIdx(full, labels)) << "the uncut file must load";
  expectError(loadIdx(cut, labels),
              {cut, "gzip stream ends early", "unexpected end of file"});
}

TEST(FashionMnistErrors, GzipChecksumMismatch) {
  // The deflate data is intact; only the CRC-32 in the gzip trailer is wrong,
  // so the loader must read on to the trailer and let zlib verify it.
  TempDir dir;
  const uint32_t count = 200000;
  const std::string good = dir.path("good.gz");
  writeGzip(good, idxImages(count, 1, 1, noise(count)));
  const std::string labels = dir.path("labels.gz");
  writeGzip(labels, idxLabels(count, cyclicLabels(count)));
  ASSERT_TRUE(loadIdx(good, labels)) << "the intact file must load";
  Bytes compressed = readRaw(good);
  ASSERT_GT(compressed.size(), 8u);
  compressed[compressed.size() - 8] ^= 0x01; // The CRC-32 of the trailer.
  const std::string bad = dir.path("bad-crc.gz");
  writeRaw(bad, compressed);
  expectError(loadIdx(bad, labels),
              {bad, "corrupt gzip data", "incorrect data check"});
}

TEST(FashionMnistErrors, TrailingBytesAreReported) {
  TempDir dir;
  SmallPair p = writeSmallPair(dir);
  const std::string images = dir.path("images");
  writeRaw(images, idxImages(3, 2, 2, noise(12 + 5)));
  expectError(loadIdx(images, p.labels),
              {images, "expected end of file after 12 pixel bytes, found 5 "
                       "more bytes"});
}

TEST(FashionMnistErrors, DirectoryInsteadOfFile) {
  TempDir dir;
  SmallPair p = writeSmallPair(dir);
  expectError(loadIdx(dir.dir(), p.labels), {dir.dir(), "Is a directory"});
}

//===----------------------------------------------------------------------===//
// Bilinear resizing
//===----------------------------------------------------------------------===//

TEST(ResizeBilinear, ConstantStaysConstant) {
  std::vector<float> src(5 * 7, 0.3f);
  for (auto [h, w] : {std::pair{13, 3}, {2, 2}, {224, 224}, {1, 9}}) {
    std::vector<float> dst(size_t(h) * w, -1.0f);
    resizeBilinear(src.data(), 5, 7, dst.data(), h, w);
    for (float v : dst)
      ASSERT_NEAR(v, 0.3f, 1e-6f) << h << "x" << w;
  }
}

TEST(ResizeBilinear, SameSizeIsBitExactCopy) {
  // Infinities and NaN would turn into NaN through 0 * inf in the general
  // formula, so equality here proves the copy path.
  std::vector<float> src = {0.1f,
                            -0.0f,
                            1e-30f,
                            3.5f,
                            std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN()};
  std::vector<float> dst(src.size(), 7.0f);
  resizeBilinear(src.data(), 2, 3, dst.data(), 2, 3);
  EXPECT_EQ(std::memcmp(src.data(), dst.data(), src.size() * sizeof(float)), 0);
}

TEST(ResizeBilinear, UpsampleTwoByTwoMatchesPyTorch) {
  // scale 0.5: dst 0,1,2,3 -> src 0 (clamped from -0.25), 0.25, 0.75, 1.25
  // (index 1, neighbour clamped to 1). This is
  // F.interpolate(tensor([[[[0,1],[2,3]]]]), size=4, mode='bilinear').
  const float src[] = {0, 1, 2, 3};
  const float expected[] = {0.0f, 0.25f, 0.75f, 1.0f, //
                            0.5f, 0.75f, 1.25f, 1.5f, //
                            1.5f, 1.75f, 2.25f, 2.5f, //
                            2.0f, 2.25f, 2.75f, 3.0f};
  float dst[16];
  resizeBilinear(src, 2, 2, dst, 4, 4);
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(dst[i], expected[i]) << "at " << i / 4 << "," << i % 4;
}

TEST(ResizeBilinear, DownsampleFourByFourWithoutAntialias) {
  // scale 2: dst 0 -> src 0.5, dst 1 -> src 2.5; each output averages a 2x2
  // block and the other pixels are ignored (no antialiasing).
  float src[16];
  std::iota(src, src + 16, 0.0f); // src[r][c] = 4r + c
  float dst[4];
  resizeBilinear(src, 4, 4, dst, 2, 2);
  EXPECT_EQ(dst[0], 2.5f);  // (0 + 1 + 4 + 5) / 4
  EXPECT_EQ(dst[1], 4.5f);  // (2 + 3 + 6 + 7) / 4
  EXPECT_EQ(dst[2], 10.5f); // (8 + 9 + 12 + 13) / 4
  EXPECT_EQ(dst[3], 12.5f); // (10 + 11 + 14 + 15) / 4
}

TEST(ResizeBilinear, NonIntegerAndMixedScales) {
  // 3x3 -> 2x2, scale 1.5: dst 0 -> src 0.25, dst 1 -> src 1.75. The input
  // 3r + c is linear, so the output is 3y + x at those coordinates.
  float src[9];
  std::iota(src, src + 9, 0.0f);
  float dst[4];
  resizeBilinear(src, 3, 3, dst, 2, 2);
  EXPECT_EQ(dst[0], 1.0f);
  EXPECT_EQ(dst[1], 2.5f);
  EXPECT_EQ(dst[2], 5.5f);
  EXPECT_EQ(dst[3], 7.0f);
  // Height grows 2 -> 3 (src 0 clamped, 0.5, 1.1667 clamped to row 1) while
  // width shrinks 2 -> 1 (src 0.5: the mean of both columns).
  const float square[] = {0, 1, 2, 3};
  float column[3];
  resizeBilinear(square, 2, 2, column, 3, 1);
  EXPECT_EQ(column[0], 0.5f);
  EXPECT_EQ(column[1], 1.5f);
  EXPECT_EQ(column[2], 2.5f);
}

//===----------------------------------------------------------------------===//
// Batches
//===----------------------------------------------------------------------===//

TEST(MakeBatch, NativeSizeIsPixelsOver255) {
  const Dataset &ds = testSplit();
  const int64_t indices[] = {0, 42, 9999, 1};
  std::vector<float> images(4 * 28 * 28, -1.0f);
  int32_t labels[4] = {-1, -1, -1, -1};
  makeBatch(ds, indices, 4, 28, 28, images.data(), labels);
  EXPECT_EQ(std::vector<int32_t>(labels, labels + 4),
            (std::vector<int32_t>{9, 3, 5, 2}));
  for (int i = 0; i < 4; ++i)
    for (int p = 0; p < 784; ++p)
      ASSERT_EQ(images[size_t(i) * 784 + p],
                float(ds.pixels[size_t(indices[i]) * 784 + p]) / 255.0f)
          << "image " << i << " pixel " << p;
  // Image 42 contains a full-white pixel: the top of the range is reached.
  EXPECT_EQ(*std::max_element(images.begin() + 784, images.begin() + 2 * 784),
            1.0f);
}

TEST(MakeBatch, ResizedTo224LikeD2l) {
  const Dataset &ds = testSplit();
  const int64_t indices[] = {9999, 0, 42};
  const int n = 3, side = 224;
  std::vector<float> images(size_t(n) * side * side, -1.0f);
  int32_t labels[3] = {-1, -1, -1};
  makeBatch(ds, indices, n, side, side, images.data(), labels);
  EXPECT_EQ(std::vector<int32_t>(labels, labels + 3),
            (std::vector<int32_t>{5, 9, 3}));
  for (float v : images)
    ASSERT_TRUE(v >= 0.0f && v <= 1.0f) << v;

  // Image 0 of the dataset is batch item 1 (NCHW, C = 1).
  const float *out = images.data() + size_t(1) * side * side;
  auto px = [&](int r, int c) { return ds.pixels[size_t(r) * 28 + c] / 255.0; };
  // Corners clamp to the source corners: (0.5)/8 - 0.5 < 0 and
  // 223.5/8 - 0.5 = 27.4375 whose neighbour is clamped to 27.
  EXPECT_FLOAT_EQ(out[0], px(0, 0));
  EXPECT_FLOAT_EQ(out[223 * side + 223], px(27, 27));
  // Output (116, 100) samples source (14.0625, 12.0625): (8k + 4.5)/8 - 0.5.
  const double w = 0.0625;
  const double expected = (1 - w) * ((1 - w) * px(14, 12) + w * px(14, 13)) +
                          w * ((1 - w) * px(15, 12) + w * px(15, 13));
  EXPECT_GT(px(14, 13), px(14, 12)); // 136 vs 98: a real gradient.
  EXPECT_NEAR(out[116 * side + 100], expected, 1e-6);
}

//===----------------------------------------------------------------------===//
// Shuffling
//===----------------------------------------------------------------------===//

TEST(ShuffledOrder, IsAPermutation) {
  for (int64_t count :
       {int64_t(0), int64_t(1), int64_t(2), int64_t(1000), int64_t(60000)}) {
    std::vector<int64_t> order = shuffledOrder(count, 42, 3);
    ASSERT_EQ(order.size(), size_t(count));
    std::sort(order.begin(), order.end());
    for (int64_t i = 0; i < count; ++i)
      ASSERT_EQ(order[size_t(i)], i) << "count " << count;
  }
  std::vector<int64_t> order = shuffledOrder(1000, 42, 3);
  std::vector<int64_t> identity(1000);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(order, identity);
}

TEST(ShuffledOrder, DeterministicPerSeedAndEpoch) {
  EXPECT_EQ(shuffledOrder(60000, 42, 5), shuffledOrder(60000, 42, 5));
  EXPECT_NE(shuffledOrder(60000, 42, 5), shuffledOrder(60000, 42, 6));
  EXPECT_NE(shuffledOrder(60000, 42, 5), shuffledOrder(60000, 43, 5));
}

TEST(ShuffledOrder, MatchesIndependentPythonPort) {
  // From a Python transcription of mix64 / randomBits / CounterRng::below and
  // Fisher-Yates from the back: fixes the order on every platform.
  EXPECT_EQ(shuffledOrder(10, 42, 0),
            (std::vector<int64_t>{2, 8, 7, 1, 9, 3, 5, 0, 6, 4}));
  EXPECT_EQ(shuffledOrder(10, 42, 1),
            (std::vector<int64_t>{7, 2, 6, 5, 1, 0, 8, 4, 3, 9}));
  EXPECT_EQ(shuffledOrder(10, 7, 0),
            (std::vector<int64_t>{6, 1, 8, 7, 2, 9, 0, 4, 5, 3}));
}

TEST(ShuffledOrder, AllPermutationsOfThreeAreEquallyLikely) {
  // Off-by-one variants of Fisher-Yates (e.g. Sattolo's j < i) never produce
  // some permutations. 6000 seeds: expect 1000 each, sd ~29.
  std::map<std::vector<int64_t>, int> seen;
  for (uint64_t seed = 0; seed < 6000; ++seed)
    ++seen[shuffledOrder(3, seed, 0)];
  ASSERT_EQ(seen.size(), 6u);
  for (const auto &[perm, n] : seen) {
    EXPECT_GT(n, 850);
    EXPECT_LT(n, 1150);
  }
}

} // namespace
