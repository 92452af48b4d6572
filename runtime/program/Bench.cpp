//===- runtime/program/Bench.cpp - `out/nin bench [--profile]` ------------===//

#include "runtime/program/Bench.h"
#include "runtime/program/Arena.h"
#include "runtime/program/Generated.h"
#include "runtime/program/Profile.h"
#include "runtime/program/Weights.h"
#include "runtime/support/Error.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <map>
#include <numeric>
#include <sys/resource.h>
#include <vector>

namespace ninc::rt {
namespace {

using Clock = std::chrono::steady_clock;

int fail(const std::string &message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  return kExitInvalidInput;
}

/// Peak resident set size of this process so far, in MiB.
double peakRssMiB() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0; // Linux reports KiB
}

/// "2 threads, AVX2+FMA: the ISA the code was compiled for": what a peak was
/// measured with, as `bench --profile` and `--peak` print it.
std::string describePeak(const FmaPeak &peak) {
  return std::to_string(peak.threads) + " threads, " + peak.isa +
         (peak.capped ? ": the ISA the code was compiled for" : "");
}

/// The time of each instrumented region over `calls` calls that took
/// `seconds` in all (cycle counts converted with the cycles per second of
/// the whole run), against the FMA peak.
void printProfile(const std::vector<ProfileRegion> &regions, const std::string &function,
                  int calls, double seconds, uint64_t cycles, const FmaPeak &peak) {
  const double perSecond = double(cycles) / seconds;
  // Regions with the same description (the weight gradient's per-group
  // pieces, a peeled remainder) are one row, with their count.
  struct Row {
    std::string name;
    int count = 0;
    double sec = 0;
    int64_t flops = 0;
  };
  std::vector<Row> rows;
  std::map<std::string, size_t> byName;
  double covered = 0;
  int64_t flops = 0;
  for (const ProfileRegion &r : regions) {
    if (r.function != function)
      continue;
    double sec = double(ninc_prof_cycles[r.id]) / perSecond / calls;
    auto [it, inserted] = byName.try_emplace(r.name, rows.size());
    if (inserted)
      rows.push_back({r.name});
    Row &row = rows[it->second];
    row.count++;
    row.sec += sec;
    row.flops += r.flops;
    covered += sec;
    flops += r.flops;
  }
  std::sort(rows.begin(), rows.end(), [](const Row &a, const Row &b) { return a.sec > b.sec; });
  const double perCall = seconds / calls;
  size_t regionCount = 0;
  for (const Row &row : rows)
    regionCount += size_t(row.count);
  std::printf("\nprofile of %s (%zu regions, %d calls): %.2f ms a call, %.1f GFLOP/s = %.1f%% "
              "of the %.1f GFLOP/s FMA peak\n",
              function.c_str(), regionCount, calls, perCall * 1e3, flops / perCall / 1e9,
              100.0 * flops / perCall / 1e9 / peak.gflops, peak.gflops);
  std::printf("%9s %6s %9s %6s  %s\n", "ms", "time", "GFLOP/s", "peak", "region");
  const size_t shown = std::min<size_t>(rows.size(), 40);
  for (size_t i = 0; i < shown; ++i) {
    const Row &row = rows[i];
    double gflops = row.sec > 0 ? row.flops / row.sec / 1e9 : 0;
    std::string name = row.count > 1 ? row.name + " (x" + std::to_string(row.count) + ")"
                                     : row.name;
    std::printf("%9.3f %5.1f%% %9.1f %5.1f%%  %s\n", row.sec * 1e3, 100 * row.sec / perCall,
                gflops, 100 * gflops / peak.gflops, name.c_str());
  }
  if (shown < rows.size()) {
    double sec = 0;
    for (size_t i = shown; i < rows.size(); ++i)
      sec += rows[i].sec;
    std::printf("%9.3f %5.1f%% %9s %6s  (%zu more rows)\n", sec * 1e3, 100 * sec / perCall, "",
                "", rows.size() - shown);
  }
  double rest = std::max(0.0, perCall - covered);
  std::printf("%9.3f %5.1f%% %9s %6s  (outside the regions: views, copies, calls)\n",
              rest * 1e3, 100 * rest / perCall, "", "");
  std::printf("GFLOP/s count each op's nominal FLOPs (as `ninc inspect` does); a conv on zero "
              "padding skips the taps that read it, so its share of the peak can pass 100%%\n");
}

/// Every region's milliseconds a call as tab-separated lines "region
/// function ms flops name" (`bench --profile-out`, read by ninc's autotuner),
/// written to a temporary file and renamed.
Status writeProfileTable(const std::string &path, const std::vector<ProfileRegion> &regions,
                         int calls, double seconds, uint64_t cycles) {
  const double perSecond = double(cycles) / seconds;
  std::string tmp = path + ".tmp";
  FILE *f = std::fopen(tmp.c_str(), "w");
  if (!f)
    return Error{"--profile-out: cannot write '" + tmp + "': " + std::strerror(errno)};
  for (const ProfileRegion &r : regions)
    std::fprintf(f, "%lld\t%s\t%.6f\t%lld\t%s\n", (long long)r.id, r.function.c_str(),
                 double(ninc_prof_cycles[r.id]) / perSecond / calls * 1e3, (long long)r.flops,
                 r.name.c_str());
  bool ok = std::fclose(f) == 0;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Error{"--profile-out: cannot write '" + path + "'"};
  }
  return Status::ok();
}

/// Times one batch of inference or one training step (synthetic data); with
/// `profile`, also each instrumented region (cpu/Profile.cpp) against the
/// machine's FMA peak.
} // namespace

int runBench(const ModelDescriptor &d, const std::string &mode, int iters, int warmup,
             bool profile, const std::string &profileOut, bool peak) {
  const bool training = mode == "train";
  if (training && !programCanTrain(d))
    return fail("error: this program was compiled for inference only (recompile with ninc "
                "compile --mode=train)");
  const bool device = ninc_device_name != nullptr;
  if ((profile || peak) && (device || !ninc_prof_enabled || !ninc_prof_cycles || !ninc_profile_table))
    return fail(device ? std::string(profile ? "error: --profile" : "error: --peak") +
                             " times the CPU code; this program runs on " +
                             std::string(ninc_device_name())
                       : "error: this program has no profile regions (recompile it with this "
                         "ninc)");
  std::vector<float> weights = initialWeights(d);
  std::vector<float> velocity(weights.size(), 0.0f);
  std::vector<float> images(d.batch * d.channels * d.height * d.width);
  for (size_t i = 0; i < images.size(); ++i)
    images[i] = float(i % 251) / 251.0f;
  std::vector<int32_t> labels(d.batch);
  for (int64_t i = 0; i < d.batch; ++i)
    labels[i] = int32_t(i % d.classes);
  std::vector<float> logits(d.batch * d.classes);
  const int64_t arenaBytes = training ? std::max(d.arenaBytes, d.trainArenaBytes) : d.arenaBytes;
  if (std::string p = modelMemoryProblem(d, arenaBytes, " (its arena)"); !p.empty())
    return fail(p);
  Arena arena(arenaBytes);
  if (!arena.data())
    return fail("error: cannot allocate the " + std::to_string(arenaBytes) +
                "-byte arena for intermediates");
  // A small learning rate keeps repeated steps on one batch finite.
  const float hyper[3] = {0.001f, 0.0f, 0.0f};
  float loss = 0;
  uint64_t step = 0;
  int32_t repack = 1; // the weights are packed by the first call, as in serving
  auto run = [&] {
    if (training)
      ninc_train_step(images.data(), labels.data(), weights.data(), velocity.data(), hyper,
                      d.seed, step++, /*firstImage=*/0, &loss, logits.data(), arena.data());
    else
      ninc_infer(images.data(), weights.data(), logits.data(), arena.data(), repack);
    repack = 0;
  };
  FmaPeak fma;
  if (profile || peak)
    fma = measureFmaPeak(int(d.threads), vectorBitsOf(d.isa));
  for (int i = 0; i < warmup; ++i)
    run();
  std::vector<ProfileRegion> regions;
  if (profile || peak)
    regions = parseProfileTable(ninc_profile_table);
  if (profile) {
    std::fill(ninc_prof_cycles, ninc_prof_cycles + regions.size(), 0);
    ninc_prof_enabled[0] = 1;
  }
  std::vector<double> times;
  uint64_t c0 = profile ? __builtin_ia32_rdtsc() : 0;
  auto start = Clock::now();
  for (int i = 0; i < iters; ++i) {
    auto t0 = Clock::now();
    run();
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  double total = std::chrono::duration<double>(Clock::now() - start).count();
  uint64_t cycles = profile ? __builtin_ia32_rdtsc() - c0 : 0;
  if (profile)
    ninc_prof_enabled[0] = 0;
  std::sort(times.begin(), times.end());
  double median = times[times.size() / 2];
  std::printf("model %s, batch %lld, %s: median %.2f ms/%s, %.1f images/s (%d runs); "
              "arena %.1f MiB, weights %.1f MiB, peak RSS %.1f MiB\n",
              d.model.c_str(), (long long)d.batch, training ? "training" : "inference",
              median * 1e3, training ? "step" : "batch", d.batch / median, iters,
              arenaBytes / 1048576.0, d.blobSize * 4 / 1048576.0, peakRssMiB());
  const std::string function = d.model + (training ? "_train_step" : "_infer");
  if (peak) {
    // The machine's speed drifts (other tenants): the peak again after the
    // runs, and the higher of the two, so the share is not flattered.
    FmaPeak after = measureFmaPeak(int(d.threads), vectorBitsOf(d.isa));
    double best = std::max(fma.gflops, after.gflops);
    int64_t flops = 0;
    for (const ProfileRegion &r : regions)
      if (r.function == function)
        flops += r.flops;
    std::printf("compute: %.1f GFLOP/s at the median = %.1f%% of the %.1f GFLOP/s FMA peak "
                "(%s; %.1f before the runs, %.1f after)\n",
                flops / median / 1e9, 100.0 * flops / median / 1e9 / best, best,
                describePeak(fma).c_str(), fma.gflops, after.gflops);
  }
  if (profile) {
    std::printf("FMA peak of this machine: %.1f GFLOP/s (%s, measured now)\n", fma.gflops,
                describePeak(fma).c_str());
    printProfile(regions, function, iters, total, cycles, fma);
    if (!profileOut.empty())
      if (Status s = writeProfileTable(profileOut, regions, iters, total, cycles); !s)
        return fail("error: " + s.message());
  }
  return kExitOk;
}


} // namespace ninc::rt
