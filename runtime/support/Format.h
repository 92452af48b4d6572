//===- runtime/support/Format.h - printf into a std::string -----*- C++ -*-===//
#ifndef NINC_RUNTIME_SUPPORT_FORMAT_H
#define NINC_RUNTIME_SUPPORT_FORMAT_H

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <string>

namespace ninc::rt {

/// printf into a std::string.
inline std::string format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
inline std::string format(const char *fmt, ...) {
  va_list args, again;
  va_start(args, fmt);
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, args);
  va_end(args);
  std::string out(size_t(std::max(n, 0)), '\0');
  std::vsnprintf(out.data(), out.size() + 1, fmt, again);
  va_end(again);
  return out;
}

/// A byte count for messages: "64 bytes", "1.5 MiB", "8.9 PiB" (a double,
/// so that sizes a file only claims, past 2^64, still print).
inline std::string formatBytes(double bytes) {
  static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024)
    return format("%.0f bytes", bytes);
  int unit = -1;
  while (bytes >= 1024 && unit + 1 < int(sizeof units / sizeof *units)) {
    bytes /= 1024;
    ++unit;
  }
  return format(bytes >= 1024 ? "%.3g %s" : "%.1f %s", bytes, units[unit]);
}

} // namespace ninc::rt

#endif // NINC_RUNTIME_SUPPORT_FORMAT_H
