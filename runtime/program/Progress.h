//===- runtime/program/Progress.h - Progress of a training epoch -*- C++ -*-===//
//
// The training loop's progress display (Train.cpp): on a terminal a bar
// redrawn in place, otherwise a plain line every ~10% of an epoch.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_PROGRAM_PROGRESS_H
#define NINC_RUNTIME_PROGRAM_PROGRESS_H

#include "runtime/support/Format.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace ninc::rt {

namespace progress {

using Clock = std::chrono::steady_clock;

inline double secondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// "0:42", "12:05", "1:02:03".
inline std::string clockTime(double seconds) {
  long s = std::lround(std::max(seconds, 0.0));
  if (s >= 3600)
    return format("%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  return format("%ld:%02ld", s / 60, s % 60);
}


/// Progress of one epoch: on a terminal a bar redrawn in place (at most 5
/// times a second), otherwise a plain line every ~10% of the batches.
class Progress {
public:
  Progress(std::FILE *f, int64_t epoch, int64_t batches)
      : f_(f), tty_(f && isatty(fileno(f))), epoch_(epoch), batches_(batches),
        every_(std::max<int64_t>(1, (batches + 9) / 10)), start_(Clock::now()), last_(start_) {}

  /// `done` batches of `images` images each so far, with this mean loss.
  void update(int64_t done, double meanLoss, int64_t images) {
    if (!f_)
      return;
    const double elapsed = secondsSince(start_);
    const double rate = elapsed > 0 ? double(images) / elapsed : 0.0;
    const double eta = elapsed * double(batches_ - done) / double(done);
    if (tty_) {
      if (done < batches_ && secondsSince(last_) < 0.2)
        return;
      last_ = Clock::now();
      constexpr int kWidth = 24;
      const int filled = int(kWidth * done / batches_);
      std::fprintf(f_, "\r\033[Kepoch %lld [%s%s] %lld/%lld  loss %.4f  %.1f img/s  ETA %s",
                   (long long)epoch_, std::string(filled, '=').c_str(),
                   std::string(kWidth - filled, ' ').c_str(), (long long)done,
                   (long long)batches_, meanLoss, rate, clockTime(eta).c_str());
    } else if (done % every_ == 0 || done == batches_) {
      std::fprintf(f_, "epoch %lld: %lld/%lld batches, loss %.4f, %.1f images/s, ETA %s\n",
                   (long long)epoch_, (long long)done, (long long)batches_, meanLoss, rate,
                   clockTime(eta).c_str());
    }
    std::fflush(f_);
  }

  /// Says the test set is being classified (terminal only).
  void evaluating(int64_t images) {
    if (!tty_)
      return;
    std::fprintf(f_, "\r\033[Kepoch %lld: testing on %lld images", (long long)epoch_,
                 (long long)images);
    std::fflush(f_);
  }

  /// Clears the bar, so the epoch line starts on a clean line.
  void finish() {
    if (!tty_)
      return;
    std::fprintf(f_, "\r\033[K");
    std::fflush(f_);
  }

private:
  std::FILE *f_;
  bool tty_;
  int64_t epoch_, batches_, every_;
  Clock::time_point start_, last_;
};

} // namespace progress

} // namespace ninc::rt

#endif // NINC_RUNTIME_PROGRAM_PROGRESS_H
