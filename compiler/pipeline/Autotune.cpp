//===- compiler/pipeline/Autotune.cpp - `ninc compile --autotune` ---------===//
//
// The flow (Autotune.h):
//   1. compile as asked, each tunable op on its cached schedule (or the cost
//      model's), listing the tunable ops; when every op was in the cache,
//      that is the result: no timing;
//   2. otherwise timing rounds k = 0, 1, ...: the program with every op on
//      its k-th candidate, `bench --profile --profile-out` for inference
//      (and the training step), each op's time = the sum of its regions;
//   3. per op the fastest candidate that beats the cost model by more than
//      the noise margin; the cache is updated (written to a temporary file
//      and renamed) and the model compiled again with the choices.
//
//===----------------------------------------------------------------------===//
#include "compiler/pipeline/Autotune.h"

#include "compiler/codegen/cpu/CpuCodegen.h"
#include "compiler/model/Model.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace ninc {
namespace {

using Clock = std::chrono::steady_clock;

/// A candidate must be this much faster than the cost model's schedule to
/// be kept (the spread of region times between runs is 1-2%).
constexpr double kNoiseMargin = 0.97;

/// What the cache keys a choice by besides the op: the Target's CPU and ISA,
/// the threads and the precision.
std::string targetKey(const Target &target, const CompileOptions &opts) {
  std::string isa;
  for (const std::string &f : target.cpu.features)
    isa += (isa.empty() ? "" : ",") + f;
  return target.cpu.cpu + " " + (isa.empty() ? "-" : isa) + " threads=" +
         std::to_string(opts.threads) + " " + opts.precision;
}


/// One cache line: target TAB mode TAB op TAB choice TAB default-ms TAB chosen-ms.
struct CacheEntry {
  std::string choice;
  double defaultMs = 0, chosenMs = 0;
};
using Cache = std::map<std::string, CacheEntry>; // "target\tmode\top" -> entry

std::string cacheKey(const std::string &target, const std::string &mode, const std::string &op) {
  return target + "\t" + mode + "\t" + op;
}

Cache readCache(const std::string &path) {
  Cache cache;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string field; std::getline(ss, field, '\t');)
      f.push_back(field);
    if (f.size() != 6 || f[0].empty() || f[0][0] == '#')
      continue; // a comment or a line of another format: skipped, not fatal
    try {
      cache[cacheKey(f[0], f[1], f[2])] = {f[3], std::stod(f[4]), std::stod(f[5])};
    } catch (...) {
    }
  }
  return cache;
}

constexpr const char *kCacheHeader = "# ninc autotune cache";

/// Before any timing: the cache can be written, and what is there is a
/// cache (a model or any other file named by mistake is not overwritten).
Status checkCachePath(const std::string &path) {
  if (llvm::sys::fs::is_directory(path))
    return Error{"ninc: error: --autotune-cache: '" + path + "' is a folder; name a file"};
  if (llvm::sys::fs::exists(path)) {
    std::ifstream in(path);
    std::string first;
    std::getline(in, first);
    if (!first.empty() && first.rfind(kCacheHeader, 0) != 0)
      return Error{"ninc: error: --autotune-cache: '" + path +
                   "' is not a ninc autotune cache (its first line is not '" + kCacheHeader +
                   "'); not overwritten"};
  }
  llvm::SmallString<256> dir(path);
  llvm::sys::path::remove_filename(dir);
  if (!dir.empty())
    if (std::error_code ec = llvm::sys::fs::create_directories(dir))
      return Error{"ninc: error: --autotune-cache: cannot create '" + std::string(dir) +
                   "': " + ec.message()};
  std::string probe = path + ".tmp";
  std::ofstream out(probe);
  bool ok = bool(out);
  out.close();
  llvm::sys::fs::remove(probe);
  if (!ok)
    return Error{"ninc: error: --autotune-cache: cannot write next to '" + path + "'"};
  return Status::ok();
}

/// Writes the cache (its folder made by checkCachePath) through a temporary.
Status writeCache(const std::string &path, const Cache &cache) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << kCacheHeader << ": target\tmode\top\tschedule\tcost-model ms\tchosen ms\n";
    char ms[64];
    for (const auto &[key, e] : cache) {
      std::snprintf(ms, sizeof ms, "%.4f\t%.4f", e.defaultMs, e.chosenMs);
      out << key << "\t" << e.choice << "\t" << ms << "\n";
    }
    if (!out.flush())
      return Error{"ninc: error: --autotune-cache: cannot write '" + tmp + "'"};
  }
  if (std::error_code ec = llvm::sys::fs::rename(tmp, path)) {
    llvm::sys::fs::remove(tmp);
    return Error{"ninc: error: --autotune-cache: cannot write '" + path + "': " + ec.message()};
  }
  return Status::ok();
}

/// Region milliseconds a call from a `bench --profile-out` file.
std::map<int64_t, double> readProfile(const std::string &path, const std::string &function) {
  std::map<int64_t, double> ms;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string id, fn, t;
    if (std::getline(ss, id, '\t') && std::getline(ss, fn, '\t') && std::getline(ss, t, '\t') &&
        fn == function)
      try {
        ms[std::stoll(id)] = std::stod(t);
      } catch (...) {
      }
  }
  return ms;
}

/// Runs `program bench --mode MODE --profile --profile-out OUT` (no shell).
Status runBench(const std::string &program, const std::string &mode, int threads, int iters,
                const std::string &out, const std::string &log) {
  std::string threadArg = std::to_string(threads), itersArg = std::to_string(iters);
  llvm::SmallVector<llvm::StringRef> args = {program,   "--threads", threadArg,     "bench",
                                             "--mode",  mode,        "--profile",   "--profile-out",
                                             out,       "--iters",   itersArg,      "--warmup",
                                             "2"};
  std::optional<llvm::StringRef> redirects[] = {llvm::StringRef(""), llvm::StringRef(log),
                                                llvm::StringRef(log)};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(program, args, std::nullopt, redirects, 0, 0, &message);
  if (rc != 0)
    return Error{"ninc: error: --autotune: timing " + program + " failed (" +
                 (message.empty() ? "exit code " + std::to_string(rc) : message) + "; see " +
                 log + ")"};
  return Status::ok();
}

/// A temporary folder, removed with its files when this goes out of scope.
struct TempDir {
  std::string path;
  TempDir() {
    llvm::SmallString<128> p;
    if (!llvm::sys::fs::createUniqueDirectory("ninc-autotune", p))
      path = std::string(p);
  }
  ~TempDir() {
    if (!path.empty())
      llvm::sys::fs::remove_directories(path);
  }
};

/// Per op (by cache key): its time in each round, summed over its regions
/// (ops of the same key in several places count together).
using Timings = std::map<std::string, std::vector<double>>;

/// Times one compiled program, inference and (when it has tunable training
/// ops) the training step, and reads each op's milliseconds a call.
class Timer {
public:
  explicit Timer(int threads) : threads_(threads) {}

  /// Each op's ms (by cache key) and each mode's whole step ms, or an error.
  Status time(const std::string &program, const std::vector<cpu::TunableOp> &found,
              const std::string &tkey, std::map<std::string, double> &opMs,
              std::map<std::string, double> &stepMs) {
    for (const char *mode : {"infer", "train"}) {
      std::string function;
      for (const cpu::TunableOp &op : found)
        if (op.mode == mode)
          function = op.function;
      if (function.empty())
        continue;
      std::map<int64_t, double> ms;
      // A run of at least ~1 s: short steps (a small model) are timed over
      // more calls, so the cold first ones do not decide.
      for (int attempt = 0; attempt < 2; ++attempt) {
        int &iters = iters_.try_emplace(mode, 3).first->second;
        std::string profile = program + "." + mode + ".tsv", log = program + ".log";
        if (Status s = runBench(program, mode, threads_, iters, profile, log); !s)
          return s;
        ms = readProfile(profile, function);
        double total = 0;
        for (const auto &[r, t] : ms)
          total += t;
        stepMs[mode] = total;
        if (total * iters >= 500 || attempt == 1)
          break;
        iters = int(std::clamp(1000.0 / std::max(total, 1e-3), 3.0, 500.0));
      }
      for (const cpu::TunableOp &op : found) {
        if (op.mode != mode)
          continue;
        double t = 0;
        for (int64_t r : op.regions)
          t += ms.count(r) ? ms[r] : 0;
        opMs[cacheKey(tkey, mode, op.key)] += t;
      }
    }
    return Status::ok();
  }

private:
  int threads_;
  std::map<std::string, int> iters_;
};

} // namespace

std::string autotuneCachePath(const AutotuneOptions &options) {
  if (!options.cachePath.empty())
    return options.cachePath;
  if (const char *env = std::getenv("NINC_AUTOTUNE_CACHE"); env && *env)
    return env;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/ninc/autotune.tsv";
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/ninc/autotune.tsv";
  return ".ninc-autotune.tsv";
}

namespace {

/// Compiles `model` with `tuning`; `emit`/`output` override opts'.
int compileTuned(const Model &model, CompileOptions opts, const Target &target,
                 cpu::ScheduleTuning &tuning, std::optional<std::string> output = std::nullopt) {
  opts.tuning = &tuning;
  if (output) {
    opts.output = *output;
    opts.emit = EmitStage::Exe;
    opts.printSchedule = opts.printMemoryPlan = opts.timeReport = false;
  }
  tuning.found.clear();
  return compileModel(model, opts, target);
}

/// Runs the timing rounds; fills `times` (per cache key, per round) and
/// `baseStepMs` (round 0's whole steps); returns how many rounds ran, or -1
/// on an error (printed).
int timeRounds(const Model &model, const CompileOptions &opts, const Target &target,
               const std::vector<cpu::TunableOp> &ops, const std::string &tkey,
               const AutotuneOptions &tune, const std::string &dir, Timer &timer,
               Timings &times, std::map<std::string, double> &baseStepMs) {
  size_t rounds = 0;
  for (const cpu::TunableOp &op : ops)
    rounds = std::max(rounds, op.candidates.size());
  const auto start = Clock::now();
  double lastRound = 0;
  size_t done = 0;
  for (size_t k = 0; k < rounds; ++k) {
    double spent = std::chrono::duration<double>(Clock::now() - start).count();
    if (k > 0 && spent + lastRound > tune.seconds) {
      std::fprintf(stderr,
                   "autotune: stopping after %zu of %zu rounds (%.0f s of the %.0f s budget "
                   "spent; --autotune-seconds)\n",
                   k, rounds, spent, tune.seconds);
      break;
    }
    auto t0 = Clock::now();
    std::fprintf(stderr, "autotune: round %zu/%zu: candidate %zu of each op: compiling...\n",
                 k + 1, rounds, k);
    cpu::ScheduleTuning tuning;
    tuning.round = int64_t(k);
    std::string program = dir + "/round" + std::to_string(k);
    if (int rc = compileTuned(model, opts, target, tuning, program); rc != kExitOk)
      return -1;
    std::map<std::string, double> opMs, stepMs;
    if (Status s = timer.time(program, tuning.found, tkey, opMs, stepMs); !s) {
      std::fprintf(stderr, "%s\n", s.message().c_str());
      return -1;
    }
    for (const auto &[key, t] : opMs) {
      times[key].resize(rounds, std::numeric_limits<double>::infinity());
      times[key][k] = t;
    }
    if (k == 0)
      baseStepMs = stepMs;
    lastRound = std::chrono::duration<double>(Clock::now() - t0).count();
    std::fprintf(stderr, "autotune: round %zu/%zu: timed in %.1f s", k + 1, rounds, lastRound);
    for (const auto &[mode, ms] : stepMs)
      std::fprintf(stderr, "; %s %.2f ms", mode.c_str(), ms);
    std::fprintf(stderr, "\n");
    done = k + 1;
  }
  return int(done);
}

} // namespace

int compileWithAutotune(const Model &model, const CompileOptions &opts, const Target &target,
                        const AutotuneOptions &tune) {
  const std::string path = autotuneCachePath(tune);
  const std::string tkey = targetKey(target, opts);
  if (Status s = checkCachePath(path); !s) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return kExitInvalidInput;
  }
  Cache cache = readCache(path);
  auto choicesFor = [&](cpu::ScheduleTuning &tuning, const Cache &from) {
    std::string prefix = tkey + "\t";
    for (const auto &[key, e] : from)
      if (key.rfind(prefix, 0) == 0) {
        // Both modes' ops share the tuning map: key it by mode + op.
        std::string rest = key.substr(prefix.size());
        tuning.chosen[rest] = e.choice;
      }
  };
  // 1. What the ops are, and whether the cache has them all: a compile to
  // the llvm dialect (the cheap part; its schedules are what step 3 uses).
  TempDir dir;
  if (dir.path.empty()) {
    std::fprintf(stderr, "ninc: error: --autotune: cannot create a temporary folder\n");
    return kExitInvalidInput;
  }
  cpu::ScheduleTuning probe;
  choicesFor(probe, cache);
  {
    CompileOptions listing = opts;
    listing.emit = EmitStage::LlvmMlir;
    listing.output = dir.path + "/probe.mlir";
    listing.printSchedule = listing.printMemoryPlan = listing.timeReport = false;
    listing.tuning = &probe;
    if (int rc = compileModel(model, listing, target); rc != kExitOk)
      return rc;
  }
  std::vector<cpu::TunableOp> ops = probe.found;
  std::set<std::string> missing; // cache keys
  for (const cpu::TunableOp &op : ops)
    if (std::string key = cacheKey(tkey, op.mode, op.key); !cache.count(key))
      missing.insert(key);
  std::fprintf(stderr, "autotune: %zu tunable ops, %zu distinct not in the cache %s\n",
               ops.size(), missing.size(), path.c_str());
  if (!missing.empty()) {
    // 2. Timing rounds over every op (the cached ones are timed again too:
    // one compile times all ops at once).
    Timer timer(opts.threads);
    Timings times;
    std::map<std::string, double> baseStepMs;
    int rounds = timeRounds(model, opts, target, ops, tkey, tune, dir.path, timer, times,
                            baseStepMs);
    if (rounds < 0)
      return kExitInvalidInput;
    // 3. The choices of the ops the cache lacked.
    Cache decided;
    std::fprintf(stderr, "autotune: %-58s %9s %9s %6s  %s\n", "op (mode)", "model ms",
                 "tuned ms", "gain", "schedule");
    for (const cpu::TunableOp &op : ops) {
      std::string key = cacheKey(tkey, op.mode, op.key);
      auto it = times.find(key);
      if (!missing.count(key) || decided.count(key) || it == times.end())
        continue; // the first op of a key decides for all
      const std::vector<double> &t = it->second;
      size_t best = 0;
      for (size_t k = 1; k < t.size() && k < op.candidates.size(); ++k)
        if (t[k] < kNoiseMargin * t[0] && t[k] < t[best])
          best = k;
      decided[key] = {op.candidates[best], t[0], t[best]};
      std::fprintf(stderr, "autotune: %-58s %9.3f %9.3f %5.2fx  %s\n",
                   (op.key + " (" + op.mode + ")").c_str(), t[0], t[best],
                   t[best] > 0 ? t[0] / t[best] : 1.0, op.candidates[best].c_str());
    }
    // 4. The whole program with the choices against the cost model's: a
    // step that came out slower (ops that interact through the caches)
    // keeps the cost model's schedules for that mode.
    Cache trial = cache;
    for (const auto &[key, e] : decided)
      trial[key] = e;
    cpu::ScheduleTuning check;
    choicesFor(check, trial);
    std::string program = dir.path + "/tuned";
    std::fprintf(stderr, "autotune: checking the tuned program against the cost model's...\n");
    if (int rc = compileTuned(model, opts, target, check, program); rc != kExitOk)
      return rc;
    std::map<std::string, double> opMs, stepMs;
    if (Status s = timer.time(program, check.found, tkey, opMs, stepMs); !s) {
      std::fprintf(stderr, "%s\n", s.message().c_str());
      return kExitInvalidInput;
    }
    for (const auto &[mode, ms] : stepMs) {
      double base = baseStepMs.count(mode) ? baseStepMs[mode] : ms;
      bool kept = ms <= base;
      std::fprintf(stderr, "autotune: %s: %.2f ms a call tuned, %.2f ms with the cost model's "
                   "schedules: %.2fx%s\n",
                   mode.c_str(), ms, base, ms > 0 ? base / ms : 1.0,
                   kept ? "" : " (slower: the cost model's schedules are kept)");
      if (!kept)
        for (auto &[key, e] : decided)
          if (key.find("\t" + mode + "\t") != std::string::npos)
            e = {"default", e.defaultMs, e.defaultMs};
    }
    for (const auto &[key, e] : decided)
      cache[key] = e;
    if (Status s = writeCache(path, cache); !s) {
      std::fprintf(stderr, "%s\n", s.message().c_str());
      return kExitInvalidInput;
    }
    std::fprintf(stderr, "autotune: %d round(s); choices written to %s\n", rounds, path.c_str());
  }
  // 5. The compile asked for, with the choices.
  cpu::ScheduleTuning chosen;
  choicesFor(chosen, cache);
  return compileTuned(model, opts, target, chosen);
}

} // namespace ninc
