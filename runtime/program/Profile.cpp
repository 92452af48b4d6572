//===- runtime/program/Profile.cpp - FMA peak and the region table --------===//
#include "runtime/program/Profile.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <sstream>
#include <thread>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ninc::rt {
namespace {

using Clock = std::chrono::steady_clock;

// Twelve independent chains: enough to cover the FMA latency (4 cycles) on
// two FMA pipes. Returns FLOPs done; `sink` keeps the results live.
#if defined(__x86_64__)
__attribute__((target("avx512f"))) double chains512(int64_t iters, float *sink) {
  __m512 a[12];
  for (int i = 0; i < 12; ++i)
    a[i] = _mm512_set1_ps(1.0f + i * 1e-3f);
  const __m512 b = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
  for (int64_t n = 0; n < iters; ++n)
    for (int i = 0; i < 12; ++i)
      a[i] = _mm512_fmadd_ps(a[i], b, c);
  __m512 s = a[0];
  for (int i = 1; i < 12; ++i)
    s = _mm512_add_ps(s, a[i]);
  float out[16];
  _mm512_storeu_ps(out, s);
  *sink = out[0] + out[15];
  return double(iters) * 12 * 16 * 2;
}

__attribute__((target("avx2,fma"))) double chains256(int64_t iters, float *sink) {
  __m256 a[12];
  for (int i = 0; i < 12; ++i)
    a[i] = _mm256_set1_ps(1.0f + i * 1e-3f);
  const __m256 b = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t n = 0; n < iters; ++n)
    for (int i = 0; i < 12; ++i)
      a[i] = _mm256_fmadd_ps(a[i], b, c);
  __m256 s = a[0];
  for (int i = 1; i < 12; ++i)
    s = _mm256_add_ps(s, a[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  *sink = out[0] + out[7];
  return double(iters) * 12 * 8 * 2;
}
#endif

double chainsScalar(int64_t iters, float *sink) {
  float a[12];
  for (int i = 0; i < 12; ++i)
    a[i] = 1.0f + i * 1e-3f;
  for (int64_t n = 0; n < iters; ++n)
    for (int i = 0; i < 12; ++i)
      a[i] = a[i] * 0.9999999f + 1e-7f;
  float s = 0;
  for (float v : a)
    s += v;
  *sink = s;
  return double(iters) * 12 * 2;
}

} // namespace

int vectorBitsOf(const std::vector<std::string> &isa) {
  auto has = [&](const char *f) { return std::find(isa.begin(), isa.end(), f) != isa.end(); };
  if (has("avx512f"))
    return 512;
  return has("avx2") && has("fma") ? 256 : 0;
}

FmaPeak measureFmaPeak(int threads, int vectorBits, double seconds) {
  FmaPeak peak;
  peak.threads = threads < 1 ? 1 : threads;
  double (*chains)(int64_t, float *) = chainsScalar;
  peak.isa = "scalar";
  const int limit = vectorBits > 0 ? vectorBits : 1 << 30;
#if defined(__x86_64__)
  const bool has512 = __builtin_cpu_supports("avx512f");
  const bool has256 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (has512 && limit >= 512) {
    chains = chains512;
    peak.isa = "AVX-512";
  } else if (has256 && limit >= 256) {
    chains = chains256;
    peak.isa = "AVX2+FMA";
    peak.capped = has512;
  } else {
    peak.capped = has256;
  }
#endif
  // Size the run on one thread (also warms the clock up), then all at once.
  float sink = 0;
  int64_t iters = 1 << 16;
  for (;;) {
    auto t0 = Clock::now();
    chains(iters, &sink);
    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    if (dt > 0.02 || iters > (int64_t(1) << 40)) {
      iters = int64_t(double(iters) * seconds / std::max(dt, 1e-9));
      break;
    }
    iters *= 4;
  }
  // The best of three runs (a run can lose a slice to another process).
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<std::thread> pool;
    std::vector<double> flops(peak.threads);
    std::vector<float> sinks(peak.threads);
    std::atomic<int> ready{0};
    auto t0 = Clock::now();
    for (int t = 0; t < peak.threads; ++t)
      pool.emplace_back([&, t] {
        ready++;
        while (ready.load() < peak.threads) {
        }
        flops[t] = chains(iters / 3, &sinks[t]);
      });
    for (std::thread &t : pool)
      t.join();
    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    double total = 0;
    for (double f : flops)
      total += f;
    peak.gflops = std::max(peak.gflops, total / dt / 1e9);
  }
  return peak;
}

std::vector<ProfileRegion> parseProfileTable(const char *table) {
  std::vector<ProfileRegion> regions;
  if (!table)
    return regions;
  std::istringstream in(table);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    ProfileRegion r;
    std::string id, flops;
    if (!std::getline(fields, id, '\t') || !std::getline(fields, r.function, '\t') ||
        !std::getline(fields, flops, '\t') || !std::getline(fields, r.name))
      continue;
    r.id = std::stoll(id);
    r.flops = std::stoll(flops);
    regions.push_back(r);
  }
  return regions;
}

} // namespace ninc::rt
