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

} // namespace ninc::rt

#endif // NINC_RUNTIME_SUPPORT_FORMAT_H
