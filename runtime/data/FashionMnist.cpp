//===- runtime/data/FashionMnist.cpp - Fashion-MNIST data layer -----------===//
//
// IDX files are read through zlib's gz* interface, which reads gzip and raw
// files alike. Input is untrusted: headers are bounds-checked before anything
// is allocated, and data is read in chunks into a buffer that only grows as
// bytes actually arrive, so a lying header cannot make us allocate more than
// about twice what the file really holds.
//
//===----------------------------------------------------------------------===//

#include "runtime/data/FashionMnist.h"

#include "runtime/support/Random.h"
#include "runtime/support/Format.h"

#include <zlib.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numeric>
#include <utility>

#ifndef NINC_DEFAULT_DATA_DIR
#define NINC_DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"
#endif

namespace ninc::data {

const char *const kFashionMnistClasses[kNumClasses] = {
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot"};

namespace {

//===----------------------------------------------------------------------===//
// Reading IDX files
//===----------------------------------------------------------------------===//

/// Bytes asked of zlib per call: large enough to be fast, small enough that a
/// short file stops the buffer growing early.
constexpr size_t kReadChunk = size_t(1) << 20;

/// Closes a zlib file handle.
struct GzCloser {
  void operator()(gzFile_s *file) const { gzclose(file); }
};
using GzHandle = std::unique_ptr<gzFile_s, GzCloser>;

/// Describes the first error zlib recorded on `file`, or returns an empty
/// string when there is none.
std::string gzipProblem(gzFile file, const std::string &path) {
  int code = Z_OK;
  const char *raw = gzerror(file, &code);
  if (code == Z_OK)
    return "";
  // zlib prefixes its messages with the path it was given; we add our own.
  std::string detail = raw ? raw : "";
  if (detail.compare(0, path.size() + 2, path + ": ") == 0)
    detail.erase(0, path.size() + 2);
  switch (code) {
  case Z_BUF_ERROR: // zlib's code for a gzip stream cut short.
    return path + ": gzip stream ends early (" + detail +
           "); the file is probably truncated";
  case Z_DATA_ERROR:
    return path + ": corrupt gzip data (" + detail + ")";
  case Z_ERRNO:
    return path + ": read failed (" + detail + ")";
  default:
    return path + ": zlib error " + std::to_string(code) + " (" + detail + ")";
  }
}

/// Opens `path` for reading; zlib detects gzip or raw content itself.
Expected<GzHandle> openIdx(const std::string &path) {
  errno = 0;
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) {
    // gzopen leaves errno at 0 only when zlib itself ran out of memory.
    std::string why = errno ? std::strerror(errno) : "zlib could not allocate";
    return Error{path + ": cannot open (" + why + ")"};
  }
  // The default 8 KiB buffer makes decompressing 47 MB noticeably slower.
  gzbuffer(file, 1u << 17);
  return GzHandle(file);
}

/// Reads up to `len` bytes; fewer only at the end of the data. Any zlib
/// error (corrupt or truncated gzip, I/O failure) becomes an Error.
Expected<size_t> readUpTo(gzFile file, const std::string &path, uint8_t *buf,
                          size_t len) {
  size_t got = 0;
  while (got < len) {
    unsigned want = static_cast<unsigned>(std::min(len - got, kReadChunk));
    int n = gzread(file, buf + got, want);
    if (n <= 0)
      break;
    got += static_cast<size_t>(n);
  }
  // A short read is either the end of the data or an error; only gzerror
  // tells them apart (a truncated gzip stream returns data, then 0).
  std::string problem = gzipProblem(file, path);
  if (!problem.empty())
    return Error{problem};
  return got;
}

/// Reads a big-endian 32-bit integer, the byte order of every IDX field.
uint32_t bigEndian32(const uint8_t *p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 |
         uint32_t(p[3]);
}

/// Formats an IDX magic number the way the format's documentation does.
std::string hexMagic(uint32_t magic) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", magic);
  return buf;
}

/// One of the two IDX layouts we read: unsigned bytes with 3 or 1 dimensions.
struct IdxKind {
  uint32_t magic;
  int dims;
  const char *name; ///< "image" or "label", for messages.
};
constexpr IdxKind kImageFile{0x00000803, 3, "image"};
constexpr IdxKind kLabelFile{0x00000801, 1, "label"};

/// Reads and checks the magic number and dimensions of an IDX file, leaving
/// `file` at the first data byte.
Expected<std::vector<uint32_t>> readHeader(gzFile file, const std::string &path,
                                           const IdxKind &kind) {
  const size_t headerBytes = 4 + 4 * size_t(kind.dims);
  uint8_t buf[16];
  Expected<size_t> got = readUpTo(file, path, buf, headerBytes);
  if (!got)
    return got.error();
  // Check the magic before the length, so a file of the wrong kind is named
  // as such even when it is also short.
  if (*got >= 4 && bigEndian32(buf) != kind.magic)
    return Error{path + ": expected IDX magic " + hexMagic(kind.magic) +
                 " (unsigned byte, " + std::to_string(kind.dims) +
                 (kind.dims == 1 ? " dimension" : " dimensions") + "), found " +
                 hexMagic(bigEndian32(buf))};
  if (*got < headerBytes)
    return Error{path + ": expected a " + std::to_string(headerBytes) +
                 "-byte IDX " + kind.name + " header, found " +
                 std::to_string(*got) + " bytes"};
  std::vector<uint32_t> dims;
  for (int i = 0; i < kind.dims; ++i)
    dims.push_back(bigEndian32(buf + 4 + 4 * i));
  return dims;
}

/// Checks one header dimension against [1, max] before it sizes anything;
/// `claimed`: the bytes the whole header asks for, named in the message.
Status checkDim(const std::string &path, const char *what, uint32_t value,
                int64_t max, double claimed) {
  if (value >= 1 && int64_t(value) <= max)
    return Status::ok();
  return Error{path + ": expected " + what + " between 1 and " +
               std::to_string(max) + ", found " + std::to_string(value) + " (the header asks for " +
               rt::formatBytes(claimed) + ")"};
}

/// Counts the bytes left in `file`, to report trailing data precisely.
Expected<size_t> countRemaining(gzFile file, const std::string &path) {
  std::vector<uint8_t> sink(1 << 16);
  size_t total = 0;
  while (true) {
    Expected<size_t> got = readUpTo(file, path, sink.data(), sink.size());
    if (!got)
      return got.error();
    total += *got;
    if (*got < sink.size())
      return total;
  }
}

/// Reads exactly `expected` data bytes (`what` names them in messages) and
/// checks that nothing follows. Reading on to the end of the file also
/// guarantees zlib processes the gzip trailer (it may stop before it when the
/// last data byte fills our buffer), so a bad CRC or length is always caught.
Expected<std::vector<uint8_t>> readBody(gzFile file, const std::string &path,
                                        uint64_t expected, const char *what) {
  std::vector<uint8_t> data;
  while (data.size() < expected) {
    const size_t old = data.size();
    const size_t chunk = size_t(std::min<uint64_t>(kReadChunk, expected - old));
    // Grow geometrically but never past what the header justifies, and only
    // one chunk ahead of the bytes that really arrived.
    if (old + chunk > data.capacity())
      data.reserve(size_t(std::min<uint64_t>(
          expected, std::max(2 * data.capacity(), old + chunk))));
    data.resize(old + chunk);
    Expected<size_t> got = readUpTo(file, path, data.data() + old, chunk);
    if (!got)
      return got.error();
    data.resize(old + *got);
    if (*got < chunk)
      break;
  }
  if (data.size() < expected)
    return Error{path + ": expected " + std::to_string(expected) + " " + what +
                 " bytes after the header, found " +
                 std::to_string(data.size())};
  // IDX has no footer: extra bytes mean the header undercounts the data or
  // the file is not what it claims, so we refuse rather than guess.
  Expected<size_t> extra = countRemaining(file, path);
  if (!extra)
    return extra.error();
  if (*extra != 0)
    return Error{path + ": expected end of file after " +
                 std::to_string(expected) + " " + what + " bytes, found " +
                 std::to_string(*extra) + " more bytes"};
  return data;
}

/// Rejects the first label that is not a Fashion-MNIST class.
Status checkLabels(const std::string &path,
                   const std::vector<uint8_t> &labels) {
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= kNumClasses)
      return Error{path + ": label " + std::to_string(labels[i]) +
                   " at index " + std::to_string(i) +
                   " is not a class (expected 0.." +
                   std::to_string(kNumClasses - 1) + ")"};
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Finding the files
//===----------------------------------------------------------------------===//

/// The hint every "data not found" message ends with.
constexpr const char *kInstallHint =
    "install it with `apt-get install dataset-fashion-mnist` or pass "
    "--data-dir";

/// Returns dir/name.gz or dir/name, whichever exists (gzip first, as shipped).
Expected<std::string> findIdxFile(const std::string &dir,
                                  const std::string &name) {
  namespace fs = std::filesystem;
  const std::string gz = (fs::path(dir) / (name + ".gz")).string();
  const std::string raw = (fs::path(dir) / name).string();
  std::error_code ec;
  if (fs::exists(gz, ec))
    return gz;
  if (fs::exists(raw, ec))
    return raw;
  return Error{gz + ": Fashion-MNIST file not found (nor " + raw + "); " +
               kInstallHint};
}

//===----------------------------------------------------------------------===//
// Bilinear resizing
//===----------------------------------------------------------------------===//

/// The two source samples and weights that make one output sample.
struct LinearTap {
  int i0, i1;
  float w0, w1;
};

/// Per-output-index taps along one axis, computed in float exactly as
/// PyTorch's CPU kernel does (area_pixel_compute_source_index followed by
/// guard_index_and_lambda), so results match it bit for bit where the
/// arithmetic order allows.
std::vector<LinearTap> linearTaps(int srcSize, int dstSize) {
  const float scale = static_cast<float>(srcSize) / static_cast<float>(dstSize);
  std::vector<LinearTap> taps(static_cast<size_t>(dstSize));
  for (int d = 0; d < dstSize; ++d) {
    float real = scale * (static_cast<float>(d) + 0.5f) - 0.5f;
    real = std::max(real, 0.0f); // Half-pixel centres reach below 0 at edges.
    int i0 = std::min(static_cast<int>(std::floor(real)), srcSize - 1);
    float lambda =
        std::min(std::max(real - static_cast<float>(i0), 0.0f), 1.0f);
    taps[d] = {i0, std::min(i0 + 1, srcSize - 1), 1.0f - lambda, lambda};
  }
  return taps;
}

} // namespace

//===----------------------------------------------------------------------===//
// Public API
//===----------------------------------------------------------------------===//

Expected<Dataset> loadIdx(const std::string &imagesPath,
                          const std::string &labelsPath) {
  Expected<GzHandle> images = openIdx(imagesPath);
  if (!images)
    return images.error();
  Expected<std::vector<uint32_t>> imageDims =
      readHeader(images->get(), imagesPath, kImageFile);
  if (!imageDims)
    return imageDims.error();
  const uint32_t count = (*imageDims)[0], rows = (*imageDims)[1],
                 cols = (*imageDims)[2];
  const double claimed = double(count) * rows * cols;
  if (Status s = checkDim(imagesPath, "image count", count, kMaxIdxCount, claimed); !s)
    return s.error();
  if (Status s = checkDim(imagesPath, "rows", rows, kMaxIdxSide, claimed); !s)
    return s.error();
  if (Status s = checkDim(imagesPath, "columns", cols, kMaxIdxSide, claimed); !s)
    return s.error();

  Expected<GzHandle> labels = openIdx(labelsPath);
  if (!labels)
    return labels.error();
  Expected<std::vector<uint32_t>> labelDims =
      readHeader(labels->get(), labelsPath, kLabelFile);
  if (!labelDims)
    return labelDims.error();
  const uint32_t labelCount = (*labelDims)[0];
  if (Status s = checkDim(labelsPath, "label count", labelCount, kMaxIdxCount, labelCount);
      !s)
    return s.error();
  // Compare counts before reading 47 MB of pixels that would be rejected.
  if (labelCount != count)
    return Error{imagesPath + ": has " + std::to_string(count) +
                 " images but " + labelsPath + " has " +
                 std::to_string(labelCount) +
                 " labels (expected one label per image)"};

  Dataset ds;
  ds.count = count;
  ds.rows = static_cast<int>(rows);
  ds.cols = static_cast<int>(cols);
  ds.source = imagesPath + ", " + labelsPath;
  const uint64_t pixelBytes = uint64_t(count) * rows * cols;
  Expected<std::vector<uint8_t>> pixels =
      readBody(images->get(), imagesPath, pixelBytes, "pixel");
  if (!pixels)
    return pixels.error();
  ds.pixels = std::move(*pixels);
  Expected<std::vector<uint8_t>> labelBytes =
      readBody(labels->get(), labelsPath, labelCount, "label");
  if (!labelBytes)
    return labelBytes.error();
  ds.labels = std::move(*labelBytes);
  if (Status s = checkLabels(labelsPath, ds.labels); !s)
    return s.error();
  return ds;
}

Expected<Dataset> loadFashionMnist(const std::string &dir, Split split) {
  namespace fs = std::filesystem;
  const std::string prefix = split == Split::Train ? "train" : "t10k";
  std::error_code ec;
  if (!fs::exists(dir, ec))
    return Error{dir + ": Fashion-MNIST directory does not exist; " +
                 kInstallHint};
  if (!fs::is_directory(dir, ec))
    return Error{dir +
                 ": expected the Fashion-MNIST directory, found a file "
                 "that is not a directory; " +
                 kInstallHint};
  Expected<std::string> images =
      findIdxFile(dir, prefix + "-images-idx3-ubyte");
  if (!images)
    return images.error();
  Expected<std::string> labels =
      findIdxFile(dir, prefix + "-labels-idx1-ubyte");
  if (!labels)
    return labels.error();
  return loadIdx(*images, *labels);
}

std::string defaultDataDir() {
  // An environment variable lets tests and users point at another copy
  // without rebuilding.
  if (const char *env = std::getenv("NINC_DATA_DIR"); env && *env)
    return env;
  return NINC_DEFAULT_DATA_DIR;
}

void resizeBilinear(const float *src, int srcH, int srcW, float *dst, int dstH,
                    int dstW) {
  // Equal sizes are a copy by definition; the general path would also give
  // the input back (weights 1 and 0), except where 0 * inf makes NaN.
  if (srcH == dstH && srcW == dstW) {
    std::copy(src, src + size_t(srcH) * srcW, dst);
    return;
  }
  const std::vector<LinearTap> ys = linearTaps(srcH, dstH);
  const std::vector<LinearTap> xs = linearTaps(srcW, dstW);
  for (int y = 0; y < dstH; ++y) {
    const float *row0 = src + size_t(ys[y].i0) * srcW;
    const float *row1 = src + size_t(ys[y].i1) * srcW;
    float *out = dst + size_t(y) * dstW;
    for (int x = 0; x < dstW; ++x) {
      const LinearTap &t = xs[x];
      // Width first, then height: the grouping of PyTorch's CPU kernel.
      float top = row0[t.i0] * t.w0 + row0[t.i1] * t.w1;
      float bottom = row1[t.i0] * t.w0 + row1[t.i1] * t.w1;
      out[x] = top * ys[y].w0 + bottom * ys[y].w1;
    }
  }
}

void makeBatch(const Dataset &ds, const int64_t *indices, int n, int outH,
               int outW, float *images, int32_t *labels) {
  // d2l's load_data_fashion_mnist(resize=224) resizes the 8-bit PIL image and
  // then applies ToTensor (/255). We scale to [0, 1] first and resize in
  // float: that is exactly F.interpolate(bilinear, align_corners=False) on
  // ToTensor's output. When upsampling, PIL's bilinear filter uses the same
  // half-pixel weights, so we expect the two to differ only by PIL's
  // fixed-point arithmetic and rounding to 8 bits (about half a grey level).
  const size_t srcSize = size_t(ds.rows) * ds.cols;
  const size_t dstSize = size_t(outH) * outW;
  const int channels = ds.channels;
  const bool normalise = !ds.mean.empty();
  std::vector<float> scaled(srcSize);
  for (int i = 0; i < n; ++i) {
    const int64_t index = indices[i];
    assert(index >= 0 && index < ds.count && "makeBatch: index out of range");
    for (int c = 0; c < channels; ++c) {
      const size_t plane = (size_t(index) * channels + c) * srcSize;
      if (ds.values.empty()) {
        // Divide (not multiply by 1/255) to round exactly like ToTensor.
        const uint8_t *pixels = ds.pixels.data() + plane;
        for (size_t p = 0; p < srcSize; ++p)
          scaled[p] = static_cast<float>(pixels[p]) / 255.0f;
      } else {
        std::copy_n(ds.values.data() + plane, srcSize, scaled.data());
      }
      float *out = images + (size_t(i) * channels + c) * dstSize;
      resizeBilinear(scaled.data(), ds.rows, ds.cols, out, outH, outW);
      if (normalise)
        for (size_t p = 0; p < dstSize; ++p)
          out[p] = (out[p] - ds.mean[c]) / ds.stddev[c];
    }
    labels[i] = static_cast<int32_t>(ds.labels[size_t(index)]);
  }
}

std::vector<int64_t> shuffledOrder(int64_t count, uint64_t seed,
                                   uint64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(std::max<int64_t>(count, 0)));
  std::iota(order.begin(), order.end(), int64_t(0));
  // Fisher-Yates from the back; only integer arithmetic on the counter-based
  // generator, so every platform produces the same order.
  CounterRng rng(seed, kStreamShuffle + epoch);
  for (int64_t i = count - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(rng.below(uint64_t(i) + 1));
    std::swap(order[size_t(i)], order[size_t(j)]);
  }
  return order;
}

} // namespace ninc::data
