//===- compiler/target/Target.h - What the code is generated for -*- C++ -*-===//
//
// One description of the machine the generated code runs on, computed once
// from `--target`, `--cpu` (or the host) and `--gpu-arch`, and carried on the
// module as the attribute `nin.target` (TargetAttr.h) from the first
// code-generation pass on, as IREE's executable target attribute carries
// `native_vector_size`. Schedules, the command line's checks of flag
// combinations and the linker ask it about the hardware instead of comparing
// strings or keeping constants of their own.
//
// Plain C++ (no MLIR types): the command line includes it.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_TARGET_TARGET_H
#define NINC_COMPILER_TARGET_TARGET_H

#include "runtime/support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ninc {

/// The CPU that runs the generated code (for --target=cuda: the host code).
struct CpuTarget {
  std::string triple;   ///< LLVM target triple ("x86_64-pc-linux-gnu").
  std::string cpu;      ///< LLVM CPU name ("znver3", "skylake-avx512").
  /// The feature string handed to LLVM's target machine: the host's own
  /// features when the CPU is the host, empty when a CPU is named (its
  /// features are implied by the name).
  std::string llvmFeatures;
  /// The ISA extensions ninc's code generation cares about that this CPU
  /// has ("avx2", "fma", "avx512f", "avx512bf16", ...), sorted.
  std::vector<std::string> features;
  int64_t vectorBytes = 16;     ///< Widest vector register (AVX-512: 64).
  int64_t vectorRegisters = 16; ///< Architectural vector registers (AVX-512: 32).
  int64_t l1dBytes = 0;         ///< Level-1 data cache of one core.
  int64_t l2Bytes = 0;          ///< Level-2 cache of one core.
  int64_t l3BytesPerCore = 0;   ///< Level-3 cache divided by the cores sharing it.
  int64_t fmaUnits = 2;         ///< Vector FMA pipes of one core.
  /// Where the cache sizes come from: "host" (the operating system's
  /// report) or "table" (ninc's table of named CPUs).
  std::string cacheSource;

  bool has(const std::string &feature) const;
  /// fp32 lanes of one vector register.
  int64_t vectorLanes() const { return vectorBytes / 4; }
};

/// The GPU the kernels run on (--target=cuda).
struct CudaTarget {
  std::string arch = "sm_90"; ///< NVVM chip: sm_NN or sm_NNa.
  int64_t smVersion = 90;     ///< NN of sm_NN.
  /// The mma.sync operand kinds of its tensor cores ("tf32", "bf16", "f16").
  std::vector<std::string> tensorCoreKinds;
  int64_t sharedMemoryPerBlock = 0; ///< Bytes a block may use (opt-in maximum).
  int64_t registersPerBlock = 0;    ///< 32-bit registers of a block.
  int64_t maxThreadsPerBlock = 1024;
  /// The kernels run on this CPU instead (--gpu-emulate, for tests).
  bool emulate = false;
  std::string toolkit = "/usr/local/cuda"; ///< Whose ptxas assembles the kernels.

  bool hasTensorCores(const std::string &kind) const;
};

/// Everything the code generation and the linker know about the target.
struct Target {
  enum class Kind { Cpu, Cuda };
  Kind kind = Kind::Cpu;
  CpuTarget cpu;                  ///< The CPU of the generated (host) code.
  std::optional<CudaTarget> cuda; ///< Set exactly when kind == Cuda.

  bool isCuda() const { return kind == Kind::Cuda; }
  /// Whether the program's kernels run on a GPU (CUDA, not emulated).
  bool runsOnGpu() const { return isCuda() && !cuda->emulate; }
  /// "cpu" or "cuda", as `--target` spells it.
  std::string name() const;
};

/// What the command line asks for.
struct TargetRequest {
  std::string target = "cpu"; ///< "cpu" or "cuda".
  std::string cpu;            ///< LLVM CPU name; empty: the host.
  std::string gpuArch = "sm_90";
  bool gpuEmulate = false;
  std::string toolkit = "/usr/local/cuda";
};

/// The names `--target` accepts.
const std::vector<std::string> &targetNames();

/// The target for `request`; an error for an unknown target or CPU name.
Expected<Target> makeTarget(const TargetRequest &request);

/// A human-readable description (`ninc compile --print-target`).
std::string formatTarget(const Target &target);

/// Whether the target can compute convolutions and matmuls in `precision`
/// ("fp32", "tf32", "bf16"); when not, `why` says what is missing.
bool supportsPrecision(const Target &target, const std::string &precision, std::string &why);

} // namespace ninc

#endif // NINC_COMPILER_TARGET_TARGET_H
