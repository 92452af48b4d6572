//===- runtime/data/Npz.cpp - NumPy .npz datasets -------------------------===//
//
// An .npz is a zip archive of .npy files, stored (np.savez) or deflated
// (np.savez_compressed), with zip64 fields (NumPy forces them). This reads
// the central directory, inflates `x.npy` and `y.npy` with zlib (CRC
// checked) and parses their .npy headers (format 1.0-3.0, C order,
// little-endian). Limits are checked before allocating.
//
//===----------------------------------------------------------------------===//

#include "runtime/data/Datasets.h"
#include "runtime/support/Npy.h"
#include "runtime/support/Wire.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace ninc::data {
namespace {

/// The members of a zip archive (name -> uncompressed bytes) among `wanted`.
Expected<std::map<std::string, std::string>>
readZip(const std::string &path, const std::string &bytes, const std::vector<std::string> &wanted) {
  auto fail = [&](const std::string &what) {
    return Error{path + ": error: " + what + " (expected a NumPy .npz: np.savez(path, x=..., "
                 "y=...))"};
  };
  const auto *data = reinterpret_cast<const uint8_t *>(bytes.data());
  const size_t size = bytes.size();
  // End of central directory: the last signature within 64 KiB of the end.
  size_t eocd = std::string::npos;
  for (size_t i = size >= 22 ? size - 22 : 0; size >= 22; --i) {
    if (readLittleEndian(data + i, 4) == 0x06054b50) {
      eocd = i;
      break;
    }
    if (i == 0 || size - i > 65557)
      break;
  }
  if (eocd == std::string::npos)
    return fail("not a zip archive (no end of central directory)");
  uint64_t entries = readLittleEndian(data + eocd + 10, 2), dirSize = readLittleEndian(data + eocd + 12, 4),
           dirOffset = readLittleEndian(data + eocd + 16, 4);
  if (dirOffset == 0xFFFFFFFF || entries == 0xFFFF) { // zip64 end record via its locator
    if (eocd < 20 || readLittleEndian(data + eocd - 20, 4) != 0x07064b50)
      return fail("a zip64 archive without its locator");
    uint64_t rec = readLittleEndian(data + eocd - 20 + 8, 8);
    if (rec > size - 56 || readLittleEndian(data + rec, 4) != 0x06064b50)
      return fail("a corrupt zip64 end record");
    entries = readLittleEndian(data + rec + 32, 8);
    dirSize = readLittleEndian(data + rec + 40, 8);
    dirOffset = readLittleEndian(data + rec + 48, 8);
  }
  if (dirOffset > size || dirSize > size - dirOffset || entries > 1000000)
    return fail("a central directory outside the file");
  std::map<std::string, std::string> out;
  size_t p = dirOffset;
  for (uint64_t e = 0; e < entries; ++e) {
    if (p + 46 > size || readLittleEndian(data + p, 4) != 0x02014b50)
      return fail("a corrupt central directory entry " + std::to_string(e));
    const uint64_t method = readLittleEndian(data + p + 10, 2), crc = readLittleEndian(data + p + 16, 4);
    (void)crc; // unchecked in a fuzzing build
    uint64_t packed = readLittleEndian(data + p + 20, 4), unpacked = readLittleEndian(data + p + 24, 4);
    const uint64_t nameLen = readLittleEndian(data + p + 28, 2), extraLen = readLittleEndian(data + p + 30, 2),
                   commentLen = readLittleEndian(data + p + 32, 2);
    uint64_t local = readLittleEndian(data + p + 42, 4);
    if (p + 46 + nameLen + extraLen + commentLen > size)
      return fail("a corrupt central directory entry " + std::to_string(e));
    const std::string name(reinterpret_cast<const char *>(data + p + 46), nameLen);
    // zip64 extra field: the 64-bit values of the fields that are 0xFFFFFFFF.
    for (size_t x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen;) {
      const uint64_t id = readLittleEndian(data + x, 2), len = readLittleEndian(data + x + 2, 2);
      size_t v = x + 4;
      if (id == 1) {
        for (uint64_t *field : {&unpacked, &packed, &local})
          if (*field == 0xFFFFFFFF && v + 8 <= x + 4 + len) {
            *field = readLittleEndian(data + v, 8);
            v += 8;
          }
      }
      x += 4 + len;
    }
    p += 46 + nameLen + extraLen + commentLen;
    if (std::find(wanted.begin(), wanted.end(), name) == wanted.end())
      continue;
    if (local > size - 30 || readLittleEndian(data + local, 4) != 0x04034b50)
      return fail("member '" + name + "' has a corrupt local header");
    const uint64_t start = local + 30 + readLittleEndian(data + local + 26, 2) + readLittleEndian(data + local + 28, 2);
    if (start > size || packed > size - start)
      return fail("member '" + name + "' is truncated");
    if (unpacked >= (uint64_t(1) << 32) || packed >= (uint64_t(1) << 32))
      return fail("member '" + name + "' would take " + std::to_string(unpacked >> 20) +
                  " MiB; the limit is 4 GiB an array");
    if (method != 0 && method != 8)
      return fail("member '" + name + "' uses zip method " + std::to_string(method) +
                  "; NumPy writes 0 (stored) or 8 (deflate)");
    // Deflate expands at most ~1032:1; a member that claims more than its
    // packed bytes can hold is refused before anything is allocated.
    if ((method == 0 && packed != unpacked) ||
        (method == 8 && unpacked > packed * 1032 + 1024))
      return fail("member '" + name + "' claims " + std::to_string(unpacked) + " bytes from " +
                  std::to_string(packed) + " packed (corrupt)");
    std::string member(unpacked, '\0');
    if (method == 0) {
      std::memcpy(member.data(), data + start, unpacked);
    } else {
      z_stream z{};
      if (inflateInit2(&z, -MAX_WBITS) != Z_OK)
        return fail("zlib cannot start");
      z.next_in = const_cast<Bytef *>(data + start);
      z.avail_in = uInt(packed);
      z.next_out = reinterpret_cast<Bytef *>(member.data());
      z.avail_out = uInt(unpacked);
      const int rc = inflate(&z, Z_FINISH);
      const uint64_t got = z.total_out;
      inflateEnd(&z);
      if (rc != Z_STREAM_END || got != unpacked)
        return fail("member '" + name + "' does not inflate to its " +
                    std::to_string(unpacked) + " bytes (corrupt or truncated)");
    }
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION // lets fuzzed bytes past it
    if (crc32_z(0, reinterpret_cast<const Bytef *>(member.data()), member.size()) != crc)
      return fail("member '" + name + "' fails its CRC-32 (corrupt)");
#endif
    out[name] = std::move(member);
  }
  return out;
}

} // namespace

Expected<Dataset> loadNpz(const std::string &path, const DataShape &want) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error{path + ": error: cannot open: " + std::strerror(errno)};
  std::ostringstream buf;
  buf << in.rdbuf();
  auto members = readZip(path, buf.str(), {"x.npy", "y.npy"});
  if (!members)
    return members.error();
  for (const char *name : {"x.npy", "y.npy"})
    if (!members->count(name))
      return Error{path + ": error: expected arrays 'x' (images) and 'y' (labels), found no '" +
                   std::string(name, 1) + "'"};
  auto x = parseNpy(members->at("x.npy"), path + ": error: 'x'");
  if (!x)
    return x.error();
  auto y = parseNpy(members->at("y.npy"), path + ": error: 'y'");
  if (!y)
    return y.error();
  auto fail = [&](const std::string &what) { return Error{path + ": error: " + what}; };

  // x: [N, H, W], [N, C, H, W] or [N, H, W, C] with C the model's channels.
  const std::vector<int64_t> &s = x->shape;
  Dataset ds;
  bool nhwc = false;
  if (s.size() == 3 && want.channels == 1) {
    ds.count = s[0], ds.rows = int(s[1]), ds.cols = int(s[2]);
  } else if (s.size() == 4 && s[1] == want.channels) {
    ds.count = s[0], ds.rows = int(s[2]), ds.cols = int(s[3]);
  } else if (s.size() == 4 && s[3] == want.channels) {
    ds.count = s[0], ds.rows = int(s[1]), ds.cols = int(s[2]), nhwc = true;
  } else {
    std::string got;
    for (int64_t d : s)
      got += (got.empty() ? "" : ", ") + std::to_string(d);
    return fail("'x' has shape (" + got + "); the model takes " +
                std::to_string(want.channels) + " channel(s): expected [N, H, W] (1 channel), "
                "[N, C, H, W] or [N, H, W, C]");
  }
  ds.channels = want.channels;
  if (ds.count < 1 || ds.count > kMaxDatasetImages || ds.rows < 1 || ds.cols < 1 ||
      ds.rows > kMaxIdxSide || ds.cols > kMaxIdxSide)
    return fail("'x' holds " + std::to_string(ds.count) + " images of " +
                std::to_string(ds.rows) + "x" + std::to_string(ds.cols) +
                ": expected 1.." + std::to_string(kMaxDatasetImages) + " images of at most " +
                std::to_string(kMaxIdxSide) + " pixels a side");
  const size_t plane = size_t(ds.rows) * ds.cols, image = plane * ds.channels;
  // Copies element (i, c, r) in NCHW order from x's layout.
  auto fill = [&](auto *dst, const auto *src) {
    for (int64_t i = 0; i < ds.count; ++i)
      for (int c = 0; c < ds.channels; ++c)
        for (size_t p = 0; p < plane; ++p)
          dst[i * image + c * plane + p] =
              nhwc ? src[i * image + p * ds.channels + c] : src[i * image + c * plane + p];
  };
  if (x->descr == "|u1" || x->descr == "<u1") {
    ds.pixels.resize(ds.count * image);
    fill(ds.pixels.data(), reinterpret_cast<const uint8_t *>(x->data));
  } else if (x->descr == "<f4") {
    ds.values.resize(ds.count * image);
    std::vector<float> raw(ds.count * image);
    std::memcpy(raw.data(), x->data, raw.size() * 4);
    for (size_t j = 0; j < raw.size(); ++j)
      if (!std::isfinite(raw[j]))
        return fail("'x' value " + std::to_string(j) + " is not finite");
    fill(ds.values.data(), raw.data());
  } else {
    return fail("'x' has dtype '" + x->descr + "'; expected uint8 (0..255) or float32");
  }

  if (y->shape.size() != 1 || y->shape[0] != ds.count)
    return fail("'y' must hold one label per image of 'x' (" + std::to_string(ds.count) +
                "), found " + std::to_string(y->numel()) + " values in " +
                std::to_string(y->shape.size()) + " dimension(s)");
  const char kind = y->descr.size() >= 3 ? y->descr[1] : '?';
  const int size = y->descr.size() >= 3 ? std::atoi(y->descr.c_str() + 2) : 0;
  if ((kind != 'i' && kind != 'u') || (size != 1 && size != 2 && size != 4 && size != 8))
    return fail("'y' has dtype '" + y->descr + "'; expected integer labels");
  ds.labels.resize(ds.count);
  for (int64_t i = 0; i < ds.count; ++i) {
    const auto *p = reinterpret_cast<const uint8_t *>(y->data) + i * size;
    int64_t v = int64_t(readLittleEndian(p, size));
    if (kind == 'i' && size < 8 && (v >> (size * 8 - 1)) & 1)
      v -= int64_t(1) << (size * 8);
    if (v < 0 || v >= (want.classes > 0 ? want.classes : 256))
      return fail("label " + std::to_string(i) + " is " + std::to_string(v) +
                  "; the model has " + std::to_string(want.classes) + " classes (0.." +
                  std::to_string(want.classes - 1) + ")");
    ds.labels[i] = uint8_t(v);
  }
  ds.source = path;
  return ds;
}

Expected<Dataset> loadDataset(const std::string &path, const DataShape &want) {
  if (want.classes > 256)
    return Error{path + ": error: the model has " + std::to_string(want.classes) +
                 " classes; datasets hold at most 256"};
  if (path.size() >= 4 && path.compare(path.size() - 4, 4, ".npz") == 0)
    return loadNpz(path, want);
  return loadImageFolder(path, want);
}

} // namespace ninc::data
