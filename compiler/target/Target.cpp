//===- compiler/target/Target.cpp - What the code is generated for --------===//
//
// CPU facts come from LLVM (the CPU name, its features) and, for the host,
// from the operating system (cache sizes in /sys); for a CPU named with
// --cpu from the table below. GPU facts come from the SM version.
//
//===----------------------------------------------------------------------===//
#include "compiler/target/Target.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

namespace ninc {
namespace {

/// The ISA extensions Target::features lists (and `--print-target` shows).
const char *const kIsaFeatures[] = {
    "sse4.2",     "avx",        "avx2",        "fma",       "f16c",      "avx512f",
    "avx512bw",   "avx512vl",   "avx512dq",    "avx512vnni", "avx512bf16", "avx512fp16",
    "amx-tile",   "amx-bf16",   "neon",        "sve",       "sve2"};

/// Caches and FMA pipes of CPUs by LLVM name, for --cpu (per core; L3 as
/// the share of one core). Sizes from the vendors' optimisation manuals.
struct CpuFacts {
  const char *cpu;
  int64_t l1d, l2, l3PerCore, fmaUnits;
};
constexpr int64_t KiB = 1024, MiB = 1024 * 1024;
const CpuFacts kCpuTable[] = {
    {"znver2", 32 * KiB, 512 * KiB, 4 * MiB, 2},
    {"znver3", 32 * KiB, 512 * KiB, 4 * MiB, 2},
    {"znver4", 32 * KiB, 1 * MiB, 4 * MiB, 2},
    {"znver5", 48 * KiB, 1 * MiB, 4 * MiB, 2},
    {"haswell", 32 * KiB, 256 * KiB, 2 * MiB, 2},
    {"skylake", 32 * KiB, 256 * KiB, 2 * MiB, 2},
    {"skylake-avx512", 32 * KiB, 1 * MiB, 1408 * KiB, 2},
    {"cascadelake", 32 * KiB, 1 * MiB, 1408 * KiB, 2},
    {"icelake-server", 48 * KiB, 1280 * KiB, 1536 * KiB, 2},
    {"sapphirerapids", 48 * KiB, 2 * MiB, 1920 * KiB, 2},
    {"emeraldrapids", 48 * KiB, 2 * MiB, 5 * MiB, 2},
    {"graniterapids", 48 * KiB, 2 * MiB, 4 * MiB, 2},
    {"x86-64-v3", 32 * KiB, 512 * KiB, 2 * MiB, 2},
    {"x86-64-v4", 32 * KiB, 1 * MiB, 2 * MiB, 2},
};
/// For a CPU the table does not name.
constexpr CpuFacts kDefaultFacts = {"", 32 * KiB, 512 * KiB, 2 * MiB, 2};

const CpuFacts &factsOf(const std::string &cpu) {
  for (const CpuFacts &f : kCpuTable)
    if (cpu == f.cpu)
      return f;
  return kDefaultFacts;
}

int64_t readSize(const std::string &path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text.empty())
    return 0;
  int64_t scale = text.back() == 'K' ? KiB : text.back() == 'M' ? MiB : 1;
  try {
    return std::stoll(text) * scale;
  } catch (...) {
    return 0;
  }
}

/// How many CPUs a sysfs cpu list ("0-1,4,6-7") names.
int64_t countCpus(const std::string &list) {
  int64_t n = 0;
  std::stringstream ss(list);
  std::string range;
  while (std::getline(ss, range, ',')) {
    size_t dash = range.find('-');
    try {
      n += dash == std::string::npos ? 1
                                     : std::stoll(range.substr(dash + 1)) -
                                           std::stoll(range.substr(0, dash)) + 1;
    } catch (...) {
      return 1;
    }
  }
  return std::max<int64_t>(n, 1);
}

/// The host's caches as the kernel reports them for CPU 0; false when /sys
/// has no cache description (containers without it).
bool readHostCaches(CpuTarget &t) {
  bool any = false;
  for (int index = 0; index < 8; ++index) {
    std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    std::ifstream levelIn(dir + "level"), typeIn(dir + "type"), sharedIn(dir + "shared_cpu_list");
    int level = 0;
    std::string type, shared;
    if (!(levelIn >> level) || !(typeIn >> type))
      continue;
    sharedIn >> shared;
    int64_t size = readSize(dir + "size");
    if (level == 1 && type == "Data")
      t.l1dBytes = size;
    else if (level == 2 && type != "Instruction")
      t.l2Bytes = size;
    else if (level == 3)
      t.l3BytesPerCore = size / countCpus(shared);
    any |= size > 0;
  }
  return any && t.l1dBytes > 0 && t.l2Bytes > 0;
}

const llvm::Target *lookupLlvmTarget(const std::string &triple, std::string &error) {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  return llvm::TargetRegistry::lookupTarget(triple, error);
}

Expected<CpuTarget> makeCpuTarget(const std::string &requested) {
  CpuTarget t;
  t.triple = llvm::sys::getDefaultTargetTriple();
  std::string error;
  const llvm::Target *target = lookupLlvmTarget(t.triple, error);
  if (!target)
    return Error{"ninc: error: no LLVM target for '" + t.triple + "': " + error};
  const bool host = requested.empty();
  t.cpu = host ? llvm::sys::getHostCPUName().str() : requested;
  if (host) {
    for (const auto &feature : llvm::sys::getHostCPUFeatures())
      t.llvmFeatures += (feature.second ? ",+" : ",-") + feature.first().str();
    if (!t.llvmFeatures.empty())
      t.llvmFeatures.erase(0, 1);
  }
  // A generic subtarget first: it says which CPU names and features exist,
  // without LLVM's warnings about unknown ones.
  std::unique_ptr<llvm::MCSubtargetInfo> generic(
      target->createMCSubtargetInfo(t.triple, "", ""));
  if (!generic || (!host && !generic->isCPUStringValid(t.cpu)))
    return Error{"ninc: error: --cpu: '" + t.cpu + "' is not a CPU LLVM knows for " + t.triple +
                 " (try znver3, znver4, skylake-avx512, sapphirerapids, x86-64-v3)"};
  std::unique_ptr<llvm::MCSubtargetInfo> info(
      target->createMCSubtargetInfo(t.triple, t.cpu, t.llvmFeatures));
  auto known = [&](const char *feature) {
    for (const llvm::SubtargetFeatureKV &kv : generic->getAllProcessorFeatures())
      if (llvm::StringRef(kv.Key) == feature)
        return true;
    return false;
  };
  for (const char *feature : kIsaFeatures)
    if (known(feature) && info->checkFeatures(std::string("+") + feature))
      t.features.push_back(feature);
  std::sort(t.features.begin(), t.features.end());
  if (t.has("avx512f")) {
    t.vectorBytes = 64;
    t.vectorRegisters = 32;
  } else if (t.has("avx")) {
    t.vectorBytes = 32;
    t.vectorRegisters = 16;
  } else if (t.has("neon")) {
    t.vectorRegisters = 32;
  }
  const CpuFacts &facts = factsOf(t.cpu);
  t.fmaUnits = facts.fmaUnits;
  if (host && readHostCaches(t)) {
    t.cacheSource = "host";
  } else {
    t.l1dBytes = facts.l1d;
    t.l2Bytes = facts.l2;
    t.l3BytesPerCore = facts.l3PerCore;
    t.cacheSource = facts.cpu[0] ? "table" : "default";
  }
  return t;
}

Expected<CudaTarget> makeCudaTarget(const TargetRequest &request) {
  CudaTarget t;
  t.arch = request.gpuArch;
  t.emulate = request.gpuEmulate;
  t.toolkit = request.toolkit;
  size_t digits = 0;
  while (3 + digits < t.arch.size() && std::isdigit(static_cast<unsigned char>(t.arch[3 + digits])))
    ++digits;
  bool ok = t.arch.rfind("sm_", 0) == 0 && digits >= 2 &&
            (t.arch.size() == 3 + digits || t.arch.substr(3 + digits) == "a");
  if (!ok)
    return Error{"ninc: error: --gpu-arch: expected sm_NN or sm_NNa (e.g. sm_90), got '" +
                 t.arch + "'"};
  t.smVersion = std::stoll(t.arch.substr(3, digits));
  if (t.smVersion >= 80)
    t.tensorCoreKinds = {"bf16", "f16", "tf32"};
  else if (t.smVersion >= 70)
    t.tensorCoreKinds = {"f16"};
  // Opt-in shared memory per block (CUDA C Programming Guide, compute
  // capabilities table); 64 Ki 32-bit registers a block from sm_50 on.
  t.sharedMemoryPerBlock = t.smVersion >= 90   ? 227 * KiB
                           : t.smVersion == 80 ? 163 * KiB
                           : t.smVersion >= 86 ? 99 * KiB
                           : t.smVersion >= 70 ? 96 * KiB
                                               : 48 * KiB;
  t.registersPerBlock = 64 * 1024;
  return t;
}

std::string bytes(int64_t b) {
  if (b >= MiB && b % (MiB / 4) == 0)
    return std::to_string(b / MiB) + (b % MiB ? "." + std::to_string(b % MiB * 100 / MiB) : "") +
           " MiB";
  if (b >= KiB)
    return std::to_string(b / KiB) + " KiB";
  return std::to_string(b) + " B";
}

std::string join(const std::vector<std::string> &items, const char *sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i)
    out += (i ? sep : "") + items[i];
  return out;
}

} // namespace

bool CpuTarget::has(const std::string &feature) const {
  return std::find(features.begin(), features.end(), feature) != features.end();
}

bool CudaTarget::hasTensorCores(const std::string &kind) const {
  return std::find(tensorCoreKinds.begin(), tensorCoreKinds.end(), kind) != tensorCoreKinds.end();
}

std::string Target::name() const { return isCuda() ? "cuda" : "cpu"; }

const std::vector<std::string> &targetNames() {
  static const std::vector<std::string> names = {"cpu", "cuda"};
  return names;
}

Expected<Target> makeTarget(const TargetRequest &request) {
  Target t;
  if (request.target == "cuda")
    t.kind = Target::Kind::Cuda;
  else if (request.target != "cpu")
    return Error{"ninc: error: --target: expected cpu or cuda, got '" + request.target + "'"};
  Expected<CpuTarget> cpu = makeCpuTarget(request.cpu);
  if (!cpu)
    return cpu.error();
  t.cpu = *cpu;
  if (t.isCuda()) {
    Expected<CudaTarget> gpu = makeCudaTarget(request);
    if (!gpu)
      return gpu.error();
    t.cuda = *gpu;
  }
  return t;
}

std::string formatTarget(const Target &target) {
  std::ostringstream os;
  const CpuTarget &c = target.cpu;
  os << "target: " << target.name() << "\n";
  if (target.isCuda()) {
    const CudaTarget &g = *target.cuda;
    os << "gpu:\n"
       << "  arch:                    " << g.arch << (g.emulate ? " (emulated on the CPU)" : "")
       << "\n"
       << "  sm version:              " << g.smVersion << "\n"
       << "  tensor cores (mma.sync): "
       << (g.tensorCoreKinds.empty() ? "none" : join(g.tensorCoreKinds, " ")) << "\n"
       << "  shared memory per block: " << bytes(g.sharedMemoryPerBlock) << "\n"
       << "  registers per block:     " << g.registersPerBlock << "\n"
       << "  threads per block:       " << g.maxThreadsPerBlock << "\n"
       << "  toolkit:                 " << g.toolkit << "\n";
  }
  os << (target.isCuda() ? "host cpu:\n" : "cpu:\n")
     << "  triple:                  " << c.triple << "\n"
     << "  cpu:                     " << c.cpu << (c.llvmFeatures.empty() ? "" : " (this host)")
     << "\n"
     << "  features:                " << (c.features.empty() ? "none" : join(c.features, " "))
     << "\n"
     << "  vector register:         " << c.vectorBytes << " bytes (" << c.vectorLanes()
     << " fp32 lanes)\n"
     << "  vector registers:        " << c.vectorRegisters << "\n"
     << "  FMA units per core:      " << c.fmaUnits << "\n"
     << "  L1d per core:            " << bytes(c.l1dBytes) << "\n"
     << "  L2 per core:             " << bytes(c.l2Bytes) << "\n"
     << "  L3 share per core:       " << bytes(c.l3BytesPerCore) << "\n"
     << "  cache sizes from:        "
     << (c.cacheSource == "host"    ? "this host (/sys)"
         : c.cacheSource == "table" ? "ninc's table of CPUs"
                                    : "defaults (a CPU ninc's table does not name)")
     << "\n";
  return os.str();
}

bool supportsPrecision(const Target &target, const std::string &precision, std::string &why) {
  if (precision == "fp32")
    return true;
  if (target.isCuda()) {
    if (target.cuda->hasTensorCores(precision))
      return true;
    why = "--precision=" + precision + " needs tensor cores with " + precision + " operands, "
          "which " + target.cuda->arch + " lacks (sm_80 or newer)";
    return false;
  }
  if (precision == "tf32") {
    why = "--precision=tf32 needs --target=cuda (TF32 is a tensor-core format)";
    return false;
  }
  if (precision == "bf16" && !target.cpu.has("avx512bf16")) {
    why = "--precision=bf16 needs AVX512-BF16 (vdpbf16ps), which CPU '" + target.cpu.cpu +
          "' lacks; compile with --precision=fp32 (the default)";
    return false;
  }
  return precision == "bf16";
}

} // namespace ninc
