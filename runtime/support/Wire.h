//===- runtime/support/Wire.h - Protobuf wire format, read by hand -*- C++ -*-===//
//
// Compiled programs read model files (ninc's .pb, ONNX) without libprotobuf:
// this walks the wire format's fields; the callers know their schemas.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_SUPPORT_WIRE_H
#define NINC_RUNTIME_SUPPORT_WIRE_H

#include <cstdint>
#include <cstring>
#include <vector>

namespace ninc {

/// The little-endian unsigned integer of `bytes` bytes at `p` (zip and .npy
/// headers).
inline uint64_t readLittleEndian(const uint8_t *p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i)
    v = v << 8 | p[i];
  return v;
}

/// Reads protobuf's wire format field by field.
class WireReader {
public:
  WireReader(const uint8_t *p, const uint8_t *end) : p_(p), end_(end) {}
  bool done() const { return p_ >= end_; }

  bool varint(uint64_t &v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_)
        return false;
      uint8_t byte = *p_++;
      v |= uint64_t(byte & 0x7f) << shift;
      if (!(byte & 0x80))
        return true;
    }
    return false;
  }

  /// The next field: its number, wire type and, for LEN fields, the bytes.
  bool field(uint32_t &number, uint32_t &type, const uint8_t *&data, uint64_t &size) {
    uint64_t tag;
    if (!varint(tag))
      return false;
    number = uint32_t(tag >> 3);
    type = uint32_t(tag & 7);
    data = p_;
    switch (type) {
    case 0: return varint(size);
    case 1: size = 8; break;
    case 2:
      if (!varint(size))
        return false;
      data = p_;
      break;
    case 5: size = 4; break;
    default: return false;
    }
    if (size > uint64_t(end_ - p_))
      return false;
    p_ += size;
    return true;
  }

private:
  const uint8_t *p_, *end_;
};

/// Calls visit(number, type, data, size) on every field of the message in
/// [p, p + n), as WireReader::field gives them; false when the bytes are
/// malformed or `visit` returns false.
template <typename Visit> bool forEachField(const uint8_t *p, uint64_t n, Visit visit) {
  WireReader r(p, p + n);
  while (!r.done()) {
    uint32_t number, type;
    const uint8_t *data;
    uint64_t size;
    if (!r.field(number, type, data, size) || !visit(number, type, data, size))
      return false;
  }
  return true;
}

/// Appends a repeated int64 field's values, as WireReader::field gave them:
/// one varint (type 0: the value is `size`) or a packed run (type 2).
inline bool appendInts(uint32_t type, const uint8_t *data, uint64_t size,
                       std::vector<int64_t> &out) {
  if (type == 0) {
    out.push_back(int64_t(size));
    return true;
  }
  WireReader run(data, data + size);
  for (uint64_t v; !run.done();) {
    if (!run.varint(v))
      return false;
    out.push_back(int64_t(v));
  }
  return type == 2;
}

/// Appends a repeated float field's values: one fixed32 (type 5) or a
/// packed run (type 2) of little-endian floats.
inline bool appendFloats(uint32_t type, const uint8_t *data, uint64_t size,
                         std::vector<float> &out) {
  if ((type != 2 && type != 5) || size % 4)
    return false;
  const size_t old = out.size();
  out.resize(old + size / 4);
  if (size) // data may be null for an empty field
    std::memcpy(out.data() + old, data, size);
  return true;
}

} // namespace ninc

#endif // NINC_RUNTIME_SUPPORT_WIRE_H
