//===- runtime/program/Descriptor.cpp - What a compiled model is ----------===//

#include "runtime/program/Descriptor.h"

#include <algorithm>

#include <charconv>
#include <cmath>
#include <sstream>

namespace ninc::rt {

int64_t ParamSlot::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::vector<ParamSlot> layoutBlob(
    const std::vector<std::pair<std::string, std::vector<int64_t>>> &params,
    int64_t &blobSize) {
  constexpr int64_t kAlignFloats = 16;
  std::vector<ParamSlot> slots;
  int64_t next = 0;
  for (const auto &[name, shape] : params) {
    ParamSlot slot{name, next, shape.size() == 4 ? "HWCF" : "plain", shape};
    next += (slot.numel() + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
    slots.push_back(std::move(slot));
  }
  blobSize = std::max<int64_t>(next, 1);
  return slots;
}

Expected<ModelDescriptor> parseDescriptor(const std::string &text) {
  ModelDescriptor d;
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  bool header = false;
  while (std::getline(lines, line)) {
    ++number;
    if (line.empty())
      continue;
    std::istringstream in(line);
    std::string key;
    in >> key;
    auto fail = [&](const std::string &what) {
      return Error{"model descriptor line " + std::to_string(number) + ": " + what + ": '" +
                   line + "'"};
    };
    if (key == "ninc-descriptor") {
      int version = 0;
      if (!(in >> version) || version != 1)
        return fail("expected version 1");
      header = true;
    } else if (key == "model") {
      in >> d.model;
    } else if (key == "batch") {
      in >> d.batch;
    } else if (key == "input") {
      in >> d.channels >> d.height >> d.width;
    } else if (key == "classes") {
      in >> d.classes;
    } else if (key == "output") {
      for (int64_t v; in >> v;)
        d.output.push_back(v);
      if (!in.eof() || d.output.empty())
        return fail("malformed record");
      in.clear();
    } else if (key == "threads") {
      in >> d.threads;
    } else if (key == "seed") {
      in >> d.seed;
    } else if (key == "magnitude") {
      in >> d.magnitude;
    } else if (key == "weights") {
      in >> d.blobSize;
    } else if (key == "arena") {
      in >> d.arenaBytes;
    } else if (key == "train_arena") {
      in >> d.trainArenaBytes;
    } else if (key == "packed_weights") {
      in >> d.packedWeightBytes;
    } else if (key == "lr") {
      in >> d.learningRate;
    } else if (key == "momentum") {
      in >> d.momentum;
    } else if (key == "weight_decay") {
      in >> d.weightDecay;
    } else if (key == "epochs") {
      in >> d.epochs;
    } else if (key == "cpu") {
      in >> d.cpu;
    } else if (key == "isa") {
      for (std::string f; in >> f;)
        d.isa.push_back(f);
      continue;
    } else if (key == "param") {
      ParamSlot p;
      in >> p.name >> p.offset >> p.layout;
      for (int64_t v; in >> v;)
        p.shape.push_back(v);
      if (p.shape.empty() || p.offset < 0 || p.offset + p.numel() > d.blobSize)
        return fail("expected a parameter inside the weights blob");
      d.params.push_back(p);
      continue;
    } else {
      return fail("unknown record");
    }
    if (in.fail())
      return fail("malformed record");
  }
  if (!header || d.batch < 1 || d.channels < 1 || d.classes < 1 || d.blobSize < 1 ||
      d.arenaBytes < 0 || d.packedWeightBytes < 0 || d.packedWeightBytes > d.arenaBytes)
    return Error{"model descriptor: incomplete (expected header, batch, input, classes, weights)"};
  if (d.trainArenaBytes < 0 || d.epochs < 0 || !std::isfinite(d.learningRate) ||
      !std::isfinite(d.momentum) || !std::isfinite(d.weightDecay))
    return Error{"model descriptor: expected train_arena >= 0, epochs >= 0 and finite lr, "
                 "momentum and weight_decay"};
  return d;
}

namespace {

/// The shortest text that reads back as exactly `v` ("0.1", not 0.100000001).
std::string shortest(float v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

} // namespace

std::string formatDescriptor(const ModelDescriptor &d) {
  std::ostringstream os;
  os.precision(17);
  os << "ninc-descriptor 1\nmodel " << d.model << "\nbatch " << d.batch << "\ninput "
     << d.channels << " " << d.height << " " << d.width << "\nclasses " << d.classes << "\n"
     << (d.output.empty() ? "" : "output" + [&] {
          std::string dims;
          for (int64_t v : d.output)
            dims += " " + std::to_string(v);
          return dims + "\n";
        }())
     << "seed " << d.seed     << "\nmagnitude " << d.magnitude << "\nweights " << d.blobSize
     << "\narena " << d.arenaBytes << "\npacked_weights " << d.packedWeightBytes
     << "\ntrain_arena " << d.trainArenaBytes << "\nlr "
     << shortest(d.learningRate) << "\nmomentum " << shortest(d.momentum) << "\nweight_decay "
     << shortest(d.weightDecay) << "\nepochs " << d.epochs << "\nthreads " << d.threads << "\n";
  if (!d.cpu.empty())
    os << "cpu " << d.cpu << "\n";
  if (!d.isa.empty()) {
    os << "isa";
    for (const std::string &f : d.isa)
      os << " " << f;
    os << "\n";
  }
  for (const ParamSlot &p : d.params) {
    os << "param " << p.name << " " << p.offset << " " << p.layout;
    for (int64_t v : p.shape)
      os << " " << v;
    os << "\n";
  }
  return os.str();
}

namespace {

/// Whether this CPU has `feature` (one of Target.h's ISA extensions);
/// unknown names count as present (a newer compiler's descriptor).
bool cpuHas(const std::string &feature) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  static const std::pair<const char *, bool> kFeatures[] = {
      {"sse4.2", bool(__builtin_cpu_supports("sse4.2"))},
      {"avx", bool(__builtin_cpu_supports("avx"))},
      {"avx2", bool(__builtin_cpu_supports("avx2"))},
      {"fma", bool(__builtin_cpu_supports("fma"))},
      {"f16c", bool(__builtin_cpu_supports("f16c"))},
      {"avx512f", bool(__builtin_cpu_supports("avx512f"))},
      {"avx512bw", bool(__builtin_cpu_supports("avx512bw"))},
      {"avx512vl", bool(__builtin_cpu_supports("avx512vl"))},
      {"avx512dq", bool(__builtin_cpu_supports("avx512dq"))},
      {"avx512vnni", bool(__builtin_cpu_supports("avx512vnni"))},
      {"avx512bf16", bool(__builtin_cpu_supports("avx512bf16"))},
      {"avx512fp16", bool(__builtin_cpu_supports("avx512fp16"))},
      {"amx-tile", bool(__builtin_cpu_supports("amx-tile"))},
      {"amx-bf16", bool(__builtin_cpu_supports("amx-bf16"))},
  };
  for (const auto &[name, present] : kFeatures)
    if (feature == name)
      return present;
#else
  (void)feature;
#endif
  return true;
}

} // namespace

std::vector<std::string> missingCpuFeatures(const std::vector<std::string> &required) {
  std::vector<std::string> missing;
  for (const std::string &f : required)
    if (!cpuHas(f))
      missing.push_back(f);
  return missing;
}

Status checkCpuCanRun(const ModelDescriptor &d) {
  std::vector<std::string> missing = missingCpuFeatures(d.isa);
  if (missing.empty())
    return Status::ok();
  std::string list;
  for (const std::string &f : missing)
    list += (list.empty() ? "" : ", ") + f;
  return Error{"this program was compiled for CPU '" + (d.cpu.empty() ? "?" : d.cpu) +
               "', and this machine's CPU lacks " + list +
               "; compile it again here (ninc compile without --cpu: this host), or for an ISA "
               "level this CPU has (e.g. --cpu=x86-64-v3 for AVX2+FMA)"};
}

} // namespace ninc::rt
