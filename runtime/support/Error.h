//===- runtime/support/Error.h - Error values without exceptions --*- C++ -*-===//
//
// ninc reports bad input (files, fields, shapes) as values, not exceptions, so
// the same code can later live beside LLVM (built without exceptions) and in
// the runtime of compiled programs. An Error is a human-readable message that
// already names the file / layer / field it is about.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_SUPPORT_ERROR_H
#define NINC_RUNTIME_SUPPORT_ERROR_H

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace ninc {

/// The exit codes of `ninc` and of every compiled program, in one place.
enum ExitCode : int {
  kExitOk = 0,           ///< Success.
  kExitInvalidInput = 1, ///< A bad model, data, weights or output path.
  kExitUsage = 2,        ///< Bad flags or flag combinations.
};

/// A failure with a message for the user ("file: layer 2 'pool1': ...").
struct Error {
  std::string message;
};

/// Either a T or an Error. Check with `if (!x) return x.error();`.
template <typename T> class Expected {
public:
  Expected(T value) : v_(std::move(value)) {}
  Expected(Error err) : v_(std::move(err)) {}

  explicit operator bool() const { return v_.index() == 0; }
  T &operator*() { assert(*this); return std::get<0>(v_); }
  const T &operator*() const { assert(*this); return std::get<0>(v_); }
  T *operator->() { return &**this; }
  const T *operator->() const { return &**this; }
  const Error &error() const { assert(!*this); return std::get<1>(v_); }
  const std::string &message() const { return error().message; }

private:
  std::variant<T, Error> v_;
};

/// Success or an Error, for functions without a result.
class Status {
public:
  Status() = default;
  Status(Error err) : ok_(false), message_(std::move(err.message)) {}
  static Status ok() { return Status(); }

  explicit operator bool() const { return ok_; }
  const std::string &message() const { return message_; }
  Error error() const { return Error{message_}; }

private:
  bool ok_ = true;
  std::string message_;
};

} // namespace ninc

#endif // NINC_RUNTIME_SUPPORT_ERROR_H
