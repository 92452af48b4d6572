//===- runtime/distributed/Collective.h - Collectives of data-parallel training -*- C++ -*-===//
//
// The one small interface data-parallel training needs between processes
// (docs/distributed.md): rank, size, sum and max allreduces, a broadcast.
// Implementations: one process (size 1, every call returns at once), MPI
// (Mpi.cpp: Open MPI loaded at run time, so programs start without it), and
// in tests a stand-in of threads in one process (LocalGroup).
//
// Every rank must make the same calls in the same order; a failure is
// reported as an Error naming the call (MPI's own error handler usually
// ends the job first, with its message).
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_DISTRIBUTED_COLLECTIVE_H
#define NINC_RUNTIME_DISTRIBUTED_COLLECTIVE_H

#include "runtime/support/Error.h"

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ninc::rt {

class Collective {
public:
  virtual ~Collective() = default;
  /// This process's rank in [0, size()).
  virtual int rank() const = 0;
  /// The number of ranks.
  virtual int size() const = 0;
  /// "MPI (Open MPI 4.1.4)", "one process", ...
  virtual std::string name() const = 0;
  /// data[i] = the sum over the ranks of data[i], on every rank.
  virtual Status allreduceSum(float *data, size_t count) = 0;
  virtual Status allreduceSum(double *data, size_t count) = 0;
  /// data[i] = the maximum over the ranks of data[i], on every rank.
  virtual Status allreduceMax(double *data, size_t count) = 0;
  /// `bytes` bytes at `data` on every rank = those of rank `root`.
  virtual Status broadcast(void *data, size_t bytes, int root) = 0;
  /// Ends every rank's process with exit status `code` (MPI_Abort): a rank
  /// that fails must not leave the others waiting in a collective.
  virtual void abort(int code) { std::_Exit(code); }
};

/// Size 1: nothing to exchange.
class SingleProcess final : public Collective {
public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "one process"; }
  Status allreduceSum(float *, size_t) override { return Status::ok(); }
  Status allreduceSum(double *, size_t) override { return Status::ok(); }
  Status allreduceMax(double *, size_t) override { return Status::ok(); }
  Status broadcast(void *, size_t, int) override { return Status::ok(); }
};

/// How many ranks the launcher started, from its environment: Open MPI's
/// mpirun (OMPI_COMM_WORLD_SIZE), MPICH / Intel MPI / Slurm PMI (PMI_SIZE),
/// Slurm's srun (SLURM_NTASKS with SLURM_PROCID); 1 when none is set.
int launchedRanks();

/// How many of them run on this host (Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE,
/// MPICH's MPI_LOCALNRANKS, Slurm's SLURM_NTASKS_PER_NODE); 1 when unknown.
int launchedLocalRanks();

/// The collective of this process: MPI when a launcher started more than
/// one rank (error if libmpi cannot be loaded or initialised), else
/// SingleProcess.
Expected<std::unique_ptr<Collective>> collectiveFromEnvironment();

/// Open MPI's libmpi.so.40, loaded with dlopen and initialised
/// (MPI_THREAD_FUNNELED). Finalised when destroyed.
Expected<std::unique_ptr<Collective>> openMpi();

/// The stand-in for tests: `size` ranks as threads of one process, each
/// holding member(r). Sums run in rank order (deterministic).
class LocalGroup {
public:
  explicit LocalGroup(int size);
  ~LocalGroup();
  Collective &member(int rank);

  struct Shared;

private:
  std::unique_ptr<Shared> shared_;
  std::vector<std::unique_ptr<Collective>> members_;
};

} // namespace ninc::rt

#endif // NINC_RUNTIME_DISTRIBUTED_COLLECTIVE_H
