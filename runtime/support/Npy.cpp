//===- runtime/support/Npy.cpp - Reading and writing .npy files ----------===//

#include "runtime/support/Npy.h"
#include "runtime/support/Wire.h"
#include "runtime/support/Format.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <cstdio>
#include <cstring>

namespace ninc {

Status writeNpy(const std::string &path, const std::vector<int64_t> &shape, const float *data) {
  std::string dims;
  int64_t count = 1;
  for (int64_t d : shape) {
    dims += std::to_string(d) + ", ";
    count *= d;
  }
  if (shape.size() > 1)
    dims.erase(dims.size() - 2); // "(2, 3)"; a 1-D shape keeps its comma: "(3,)"
  else if (!shape.empty())
    dims.erase(dims.size() - 1);
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Magic (6) + version (2) + length (2) + header + '\n', padded to 64 bytes.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  const uint16_t len = static_cast<uint16_t>(header.size());

  std::string tmp = path + ".tmp";
  std::FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    return Error{path + ": error: cannot write .npy file: " + std::strerror(errno)};
  const unsigned char preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                      static_cast<unsigned char>(len & 0xff),
                                      static_cast<unsigned char>(len >> 8)};
  bool ok = std::fwrite(preamble, 1, sizeof preamble, f) == sizeof preamble &&
            std::fwrite(header.data(), 1, header.size(), f) == header.size() &&
            std::fwrite(data, sizeof(float), count, f) == static_cast<size_t>(count);
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return Error{path + ": error: cannot write .npy file: " + why};
  }
  return Status::ok();
}

int64_t NpyView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

Expected<NpyView> parseNpy(const std::string &bytes, const std::string &where) {
  auto fail = [&](const std::string &what) { return Error{where + ": " + what}; };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    return fail("not a .npy array (no \\x93NUMPY magic)");
  const int major = uint8_t(bytes[6]);
  const size_t lenBytes = major == 1 ? 2 : 4;
  if (major < 1 || major > 3 || bytes.size() < 8 + lenBytes)
    return fail(".npy format version " + std::to_string(major) + " is not 1, 2 or 3");
  const size_t headerLen = readLittleEndian(reinterpret_cast<const uint8_t *>(bytes.data()) + 8, int(lenBytes));
  const size_t start = 8 + lenBytes + headerLen;
  if (start > bytes.size())
    return fail("a truncated .npy header");
  const std::string header = bytes.substr(8 + lenBytes, headerLen);
  auto value = [&](const std::string &key) -> std::string {
    size_t k = header.find("'" + key + "'");
    if (k == std::string::npos)
      return "";
    size_t colon = header.find(':', k);
    return colon == std::string::npos ? "" : header.substr(colon + 1);
  };
  NpyView npy;
  std::string descr = value("descr");
  size_t q1 = descr.find('\''), q2 = q1 == std::string::npos ? q1 : descr.find('\'', q1 + 1);
  if (q2 == std::string::npos)
    return fail("a .npy header without 'descr'");
  npy.descr = descr.substr(q1 + 1, q2 - q1 - 1);
  std::string fortran = value("fortran_order");
  if (fortran.compare(0, 5, " True") == 0 || fortran.compare(0, 4, "True") == 0)
    return fail("Fortran order is not supported (save np.ascontiguousarray(a))");
  std::string shape = value("shape");
  size_t open = shape.find('('), close = shape.find(')');
  if (open == std::string::npos || close == std::string::npos)
    return fail("a .npy header without 'shape'");
  std::istringstream dims(shape.substr(open + 1, close - open - 1));
  for (std::string d; std::getline(dims, d, ',');) {
    d.erase(0, d.find_first_not_of(' '));
    if (d.empty())
      continue;
    char *end = nullptr;
    long long v = std::strtoll(d.c_str(), &end, 10);
    if (v < 0 || v > (int64_t(1) << 40) || (end && *end && *end != ' '))
      return fail("a .npy dimension '" + d + "' out of range");
    npy.shape.push_back(v);
  }
  size_t item = npy.descr.size() >= 3 ? size_t(std::atoi(npy.descr.c_str() + 2)) : 0;
  if (item == 0 || (npy.descr[0] == '>' && item > 1))
    return fail("dtype '" + npy.descr + "' is not a little-endian number");
  npy.data = bytes.data() + start;
  npy.bytes = bytes.size() - start;
  // The shape's size in a double first: a header may claim more than 2^64.
  double claimed = double(item);
  for (int64_t d : npy.shape)
    claimed *= double(d);
  if (claimed > double(npy.bytes))
    return fail("shape (" + shape.substr(open + 1, close - open - 1) + ") of '" + npy.descr +
                "' is " + rt::formatBytes(claimed) + "; the array holds " +
                std::to_string(npy.bytes) + " bytes of data");
  int64_t n = 1;
  for (int64_t d : npy.shape)
    n *= d; // at most npy.bytes / item: no overflow
  if (npy.bytes != size_t(n) * item)
    return fail("expected " + std::to_string(size_t(n) * item) + " bytes of data for shape (" +
                shape.substr(open + 1, close - open - 1) + "), found " +
                std::to_string(npy.bytes));
  return npy;
}


Expected<std::vector<float>> readNpyFloats(const std::string &path, std::vector<int64_t> &shape) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error{path + ": error: cannot open: " + std::strerror(errno)};
  std::ostringstream buf;
  buf << in.rdbuf();
  const std::string bytes = buf.str();
  Expected<NpyView> npy = parseNpy(bytes, path + ": error");
  if (!npy)
    return npy.error();
  if (npy->descr != "<f4")
    return Error{path + ": error: dtype '" + npy->descr + "'; expected float32 ('<f4')"};
  std::vector<float> out(npy->numel());
  std::memcpy(out.data(), npy->data, out.size() * sizeof(float));
  for (size_t j = 0; j < out.size(); ++j)
    if (!std::isfinite(out[j]))
      return Error{path + ": error: value " + std::to_string(j) + " is not finite"};
  shape = npy->shape;
  return out;
}

} // namespace ninc
