//===- runtime/data/ImageFolder.cpp - One sub-folder of images per class --===//
//
// torchvision's ImageFolder layout: ROOT/<class>/<image>.png|.jpg|.jpeg,
// classes in sorted order. Images are decoded with Debian's stb_image
// (libstb-dev's header, its implementation compiled here with static
// linkage: compiled programs gain no library), converted to the model's
// channels, and resized to its input when their size differs (bilinear on
// [0, 1] floats, rounded back to 8 bits, as torchvision's Resize on a PIL
// image before ToTensor).
//
//===----------------------------------------------------------------------===//

#include "runtime/data/Datasets.h"
#include "runtime/support/Format.h"

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_NO_STDIO
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ninc::data {
namespace {

namespace fs = std::filesystem;

bool isImage(const fs::path &p) {
  std::string ext = p.extension().string();
  for (char &c : ext)
    c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

/// stb_image's reason for a failure, printable (it may quote a chunk's raw
/// bytes).
/// Debian's stb_image (2022-09) builds a JPEG Huffman table from a DHT
/// segment's 16 code counts without checking that they sum to at most 256
/// symbols, writing past the table, and decodes a scan with tables no DHT
/// defined (uninitialised memory, indexes out of bounds) (found by
/// tests/fuzz, fuzz-image). The segments are checked here before stb sees
/// the file; "" when sane.
std::string jpegHuffmanProblem(const std::string &data) {
  const auto *b = reinterpret_cast<const unsigned char *>(data.data());
  const size_t n = data.size();
  // SOI, after any 0xFF fill bytes (stb skips them too).
  size_t p = 0;
  while (p < n && b[p] == 0xFF)
    ++p;
  if (p == 0 || p >= n || b[p] != 0xD8)
    return "";
  ++p;
  bool defined[2][4] = {}; // [DC, AC][table id]: defined by a DHT so far
  while (p + 4 <= n) {
    if (b[p] != 0xFF) { // entropy-coded data after a scan: find the next marker
      ++p;
      continue;
    }
    const unsigned char m = b[p + 1];
    if (m == 0xFF || m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {
      ++p; // fill byte, stuffed 0xFF00, TEM, RSTn, SOI: no length
      continue;
    }
    if (m == 0xD9)
      return "";
    const size_t len = size_t(b[p + 2]) << 8 | b[p + 3];
    if (len < 2 || p + 2 + len > n)
      return "a truncated JPEG segment"; // stb would read zeros past the end
    if (m == 0xDA) { // a scan: the tables it decodes with must exist
      const size_t ns = b[p + 4], at = p + 5 + 2 * ns;
      if (len < 6 + 2 * ns)
        return "a truncated JPEG scan header";
      const bool needDc = b[at] == 0 && (b[at + 2] >> 4) == 0, needAc = b[at + 1] > 0;
      for (size_t i = 0; i < ns; ++i) {
        const unsigned dc = b[p + 6 + 2 * i] >> 4, ac = b[p + 6 + 2 * i] & 15;
        if ((needDc && (dc > 3 || !defined[0][dc])) || (needAc && (ac > 3 || !defined[1][ac])))
          return "a JPEG scan decodes with a Huffman table no DHT segment defined";
      }
    }
    if (m == 0xC4)
      for (size_t q = p + 4, end = p + 2 + len; q < end;) {
        if (q + 17 > end)
          return "a truncated JPEG Huffman table";
        if ((b[q] >> 4) > 1 || (b[q] & 15) > 3)
          return "a JPEG Huffman table of class " + std::to_string(b[q] >> 4) + ", id " +
                 std::to_string(b[q] & 15);
        defined[b[q] >> 4][b[q] & 15] = true;
        size_t symbols = 0;
        for (int i = 1; i <= 16; ++i)
          symbols += b[q + i];
        if (symbols > 256 || q + 17 + symbols > end)
          return "a corrupt JPEG Huffman table (" + std::to_string(symbols) + " symbols)";
        q += 17 + symbols;
      }
    p += 2 + len;
  }
  return "";
}

/// The big-endian 32-bit number at b (PNG lengths and sizes).
uint64_t pngBe32(const unsigned char *b) {
  return uint64_t(b[0]) << 24 | uint64_t(b[1]) << 16 | uint64_t(b[2]) << 8 | b[3];
}

/// stb_image allocates a PNG's IDAT buffer from the chunk's declared length
/// (up to 2 GiB) before reading it (found by fuzz-image): every chunk must
/// fit in the file. "" when they do.
std::string pngChunkProblem(const std::string &data) {
  const auto *b = reinterpret_cast<const unsigned char *>(data.data());
  const size_t n = data.size();
  if (n < 8 || std::memcmp(b, "\x89PNG\r\n\x1a\n", 8) != 0)
    return "";
  for (size_t p = 8; p < n;) {
    if (n - p < 12)
      return "a truncated PNG chunk";
    const uint64_t len = pngBe32(b + p);
    if (len > n - p - 12)
      return "a PNG chunk of " + std::to_string(len) + " bytes in a file of " + std::to_string(n);
    if (std::memcmp(b + p + 4, "IEND", 4) == 0)
      return "";
    p += 12 + len;
  }
  return "";
}

/// A PNG's width and height from its IHDR chunk (the first, checked by
/// pngChunkProblem), so that a size stb_image refuses ("too large": it
/// reports "unknown image type") is named in the message. false: not a PNG.
bool pngSize(const std::string &data, uint64_t &w, uint64_t &h) {
  const auto *b = reinterpret_cast<const unsigned char *>(data.data());
  if (data.size() < 24 || std::memcmp(b, "\x89PNG\r\n\x1a\n", 8) != 0 ||
      std::memcmp(b + 12, "IHDR", 4) != 0)
    return false;
  w = pngBe32(b + 16);
  h = pngBe32(b + 20);
  return true;
}

/// "a 100000x100000 image (9.3 GiB of pixels a channel); at most 4096 a side"
std::string tooLarge(uint64_t w, uint64_t h) {
  return "a " + std::to_string(w) + "x" + std::to_string(h) + " image (" +
         rt::formatBytes(double(w) * double(h)) + " of pixels a channel); at most " +
         std::to_string(kMaxIdxSide) + " a side";
}

std::string failureReason() {
  std::string out = stbi_failure_reason() ? stbi_failure_reason() : "unknown";
  for (char &c : out)
    if (!std::isprint(static_cast<unsigned char>(c)))
      c = '?';
  return out;
}

/// Largest image file read (a 4096x4096 RGB PNG is ~50 MB at worst).
constexpr uintmax_t kMaxImageFileBytes = 256u << 20;

} // namespace

Expected<Dataset> loadImageFolder(const std::string &path, const DataShape &want) {
  auto fail = [&](const std::string &file, const std::string &what) {
    return Error{file + ": error: " + what};
  };
  std::error_code ec;
  if (!fs::is_directory(path, ec))
    return fail(path, "expected a .npz file or a folder with one sub-folder of PNG/JPEG images "
                      "per class, found " + std::string(fs::exists(path, ec) ? "a file" : "nothing"));
  std::vector<std::string> classes;
  for (const fs::directory_entry &e : fs::directory_iterator(path, ec))
    if (e.is_directory())
      classes.push_back(e.path().filename().string());
  if (ec)
    return fail(path, "cannot list the folder: " + ec.message());
  std::sort(classes.begin(), classes.end());
  if (want.classes > 0 ? int(classes.size()) != want.classes
                        : classes.empty() || classes.size() > 256)
    return fail(path, "expected one sub-folder per class, " + std::to_string(want.classes) +
                          " for this model, found " + std::to_string(classes.size()));
  // Every image, class by class in sorted file order: (file, label).
  std::vector<std::pair<std::string, int>> files;
  for (int k = 0; k < int(classes.size()); ++k) {
    std::vector<std::string> names;
    for (const fs::directory_entry &e : fs::directory_iterator(fs::path(path) / classes[k], ec))
      if (e.is_regular_file() && isImage(e.path()))
        names.push_back(e.path().string());
    if (ec)
      return fail(path + "/" + classes[k], "cannot list the folder: " + ec.message());
    if (names.empty())
      return fail(path + "/" + classes[k], "class '" + classes[k] + "' has no .png/.jpg images");
    std::sort(names.begin(), names.end());
    for (std::string &n : names)
      files.emplace_back(std::move(n), k);
    if (int64_t(files.size()) > kMaxDatasetImages)
      return fail(path, "more than " + std::to_string(kMaxDatasetImages) + " images");
  }

  Dataset ds;
  ds.count = int64_t(files.size());
  ds.rows = want.height, ds.cols = want.width, ds.channels = want.channels;
  ds.classNames = classes;
  const size_t plane = size_t(ds.rows) * ds.cols, image = plane * ds.channels;
  ds.pixels.resize(size_t(ds.count) * image);
  ds.labels.resize(ds.count);
  std::vector<float> src, dst(plane);
  for (int64_t i = 0; i < ds.count; ++i) {
    const std::string &file = files[i].first;
    const uintmax_t bytes = fs::file_size(file, ec);
    if (ec || bytes == 0 || bytes > kMaxImageFileBytes)
      return fail(file, ec ? "cannot read: " + ec.message()
                           : "expected an image of 1 byte to 256 MiB, found " +
                                 std::to_string(bytes) + " bytes");
    std::ifstream in(file, std::ios::binary);
    std::ostringstream buf;
    buf << in.rdbuf();
    const std::string data = buf.str();
    if (std::string problem = jpegHuffmanProblem(data); !problem.empty())
      return fail(file, "not a JPEG image stb_image can read (" + problem + ")");
    if (std::string problem = pngChunkProblem(data); !problem.empty())
      return fail(file, "not a PNG image stb_image can read (" + problem + ")");
    if (uint64_t pw, ph; pngSize(data, pw, ph) &&
                         (pw < 1 || ph < 1 || pw > uint64_t(kMaxIdxSide) || ph > uint64_t(kMaxIdxSide)))
      return fail(file, tooLarge(pw, ph));
    int w = 0, h = 0, n = 0;
    if (!stbi_info_from_memory(reinterpret_cast<const stbi_uc *>(data.data()), int(data.size()),
                               &w, &h, &n))
      return fail(file, "not a PNG or JPEG image stb_image can read (" +
                            failureReason() + ")");
    if (w < 1 || h < 1 || w > kMaxIdxSide || h > kMaxIdxSide)
      return fail(file, tooLarge(uint64_t(std::max(w, 0)), uint64_t(std::max(h, 0))));
    stbi_uc *pixels = stbi_load_from_memory(reinterpret_cast<const stbi_uc *>(data.data()),
                                            int(data.size()), &w, &h, &n, want.channels);
    if (!pixels)
      return fail(file, "cannot decode the image (" + failureReason() + ")");
    // stb gives HWC; the dataset is CHW at the model's size.
    uint8_t *out = ds.pixels.data() + size_t(i) * image;
    for (int c = 0; c < ds.channels; ++c) {
      if (w == ds.cols && h == ds.rows) {
        for (size_t p = 0; p < plane; ++p)
          out[c * plane + p] = pixels[p * ds.channels + c];
        continue;
      }
      src.resize(size_t(w) * h);
      for (size_t p = 0; p < src.size(); ++p)
        src[p] = float(pixels[p * ds.channels + c]) / 255.0f;
      resizeBilinear(src.data(), h, w, dst.data(), ds.rows, ds.cols);
      for (size_t p = 0; p < plane; ++p)
        out[c * plane + p] = uint8_t(std::clamp(std::lround(dst[p] * 255.0f), 0L, 255L));
    }
    stbi_image_free(pixels);
    ds.labels[i] = uint8_t(files[i].second);
  }
  ds.source = path;
  return ds;
}

} // namespace ninc::data
