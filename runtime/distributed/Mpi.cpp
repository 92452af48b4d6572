//===- runtime/distributed/Mpi.cpp - MPI collectives, loaded at run time ---===//
//
// Open MPI's libmpi.so.40 (Debian's openmpi 4.1; 5.x keeps the soname) is
// loaded with dlopen, as the CUDA driver is, so a program starts and trains
// alone where MPI is not installed. No mpi.h: the few functions used are
// called through pointers, and Open MPI's predefined handles
// (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are the addresses of its
// exported objects (ompi_mpi_comm_world, ...), which is its ABI. Another
// MPI (MPICH's handles are integers) would need its own table here.
//
//===----------------------------------------------------------------------===//

#include "runtime/distributed/Collective.h"
#include "runtime/support/Format.h"

#include <dlfcn.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>

namespace ninc::rt {

namespace {

using Handle = void *; // MPI_Comm, MPI_Datatype, MPI_Op: pointers in Open MPI
constexpr int kThreadFunneled = 1; // MPI_THREAD_FUNNELED
constexpr int kSuccess = 0;        // MPI_SUCCESS
void *const kInPlace = reinterpret_cast<void *>(1); // MPI_IN_PLACE

struct MpiLibrary {
  void *lib = nullptr;
  int (*initialized)(int *) = nullptr;
  int (*initThread)(int *, char ***, int, int *) = nullptr;
  int (*finalize)() = nullptr;
  int (*commRank)(Handle, int *) = nullptr;
  int (*commSize)(Handle, int *) = nullptr;
  int (*allreduce)(const void *, void *, int, Handle, Handle, Handle) = nullptr;
  int (*bcast)(void *, int, Handle, int, Handle) = nullptr;
  int (*libraryVersion)(char *, int *) = nullptr;
  int (*abort)(Handle, int) = nullptr;
  Handle world = nullptr, floatType = nullptr, doubleType = nullptr, byteType = nullptr,
         sum = nullptr, max = nullptr;
};

template <typename F> bool resolve(void *lib, const char *name, F &f) {
  f = reinterpret_cast<F>(dlsym(lib, name));
  return f != nullptr;
}

class Mpi final : public Collective {
public:
  Mpi(MpiLibrary m, int rank, int size, std::string version)
      : m_(m), rank_(rank), size_(size), version_(std::move(version)) {}
  ~Mpi() override { m_.finalize(); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void abort(int code) override {
    std::fflush(nullptr);
    m_.abort(m_.world, code);
    std::_Exit(code);
  }
  std::string name() const override { return "MPI (" + version_ + ")"; }

  Status allreduceSum(float *data, size_t count) override {
    return chunked("MPI_Allreduce (sum of floats)", data, count, m_.floatType, m_.sum);
  }
  Status allreduceSum(double *data, size_t count) override {
    return chunked("MPI_Allreduce (sum of doubles)", data, count, m_.doubleType, m_.sum);
  }
  Status allreduceMax(double *data, size_t count) override {
    return chunked("MPI_Allreduce (max of doubles)", data, count, m_.doubleType, m_.max);
  }
  Status broadcast(void *data, size_t bytes, int root) override {
    char *p = static_cast<char *>(data);
    for (size_t done = 0; done < bytes;) {
      const int n = int(std::min<size_t>(bytes - done, INT_MAX / 2));
      if (int rc = m_.bcast(p + done, n, m_.byteType, root, m_.world); rc != kSuccess)
        return Error{format("error: MPI_Bcast of %zu bytes failed on rank %d (code %d)", bytes,
                            rank_, rc)};
      done += size_t(n);
    }
    return Status::ok();
  }

private:
  /// MPI counts are ints: large buffers go in pieces.
  template <typename T>
  Status chunked(const char *what, T *data, size_t count, Handle type, Handle op) {
    for (size_t done = 0; done < count;) {
      const int n = int(std::min<size_t>(count - done, size_t(1) << 28));
      if (int rc = m_.allreduce(kInPlace, data + done, n, type, op, m_.world); rc != kSuccess)
        return Error{format("error: %s of %zu values failed on rank %d (code %d)", what, count,
                            rank_, rc)};
      done += size_t(n);
    }
    return Status::ok();
  }

  MpiLibrary m_;
  const int rank_, size_;
  const std::string version_;
};

} // namespace

Expected<std::unique_ptr<Collective>> openMpi() {
  const std::string launched = format("%d ranks were launched", launchedRanks());
  MpiLibrary m;
  // RTLD_GLOBAL: Open MPI's components, dlopen()ed by libmpi, resolve
  // their symbols against it.
  for (const char *name : {"libmpi.so.40", "libmpi.so"})
    if ((m.lib = dlopen(name, RTLD_NOW | RTLD_GLOBAL)))
      break;
  if (!m.lib)
    return Error{"error: " + launched +
                 " (mpirun or srun), but Open MPI's libmpi.so.40 cannot be loaded: " +
                 dlerror() + " (Debian: apt-get install openmpi-bin)"};
  bool ok = resolve(m.lib, "MPI_Initialized", m.initialized) &&
            resolve(m.lib, "MPI_Init_thread", m.initThread) &&
            resolve(m.lib, "MPI_Finalize", m.finalize) &&
            resolve(m.lib, "MPI_Comm_rank", m.commRank) &&
            resolve(m.lib, "MPI_Comm_size", m.commSize) &&
            resolve(m.lib, "MPI_Allreduce", m.allreduce) &&
            resolve(m.lib, "MPI_Bcast", m.bcast) &&
            resolve(m.lib, "MPI_Get_library_version", m.libraryVersion) &&
            resolve(m.lib, "MPI_Abort", m.abort);
  m.world = dlsym(m.lib, "ompi_mpi_comm_world");
  m.floatType = dlsym(m.lib, "ompi_mpi_float");
  m.doubleType = dlsym(m.lib, "ompi_mpi_double");
  m.byteType = dlsym(m.lib, "ompi_mpi_byte");
  m.sum = dlsym(m.lib, "ompi_mpi_op_sum");
  m.max = dlsym(m.lib, "ompi_mpi_op_max");
  if (!ok || !m.world || !m.floatType || !m.doubleType || !m.byteType || !m.sum || !m.max)
    return Error{"error: " + launched +
                 ", but the loaded libmpi is not Open MPI's (ompi_mpi_comm_world and the MPI "
                 "functions ninc calls were not all found); ninc supports Open MPI"};
  int provided = 0, already = 0;
  m.initialized(&already);
  if (!already && m.initThread(nullptr, nullptr, kThreadFunneled, &provided) != kSuccess)
    return Error{"error: " + launched + ", but MPI_Init_thread failed"};
  int rank = 0, size = 0;
  m.commRank(m.world, &rank);
  m.commSize(m.world, &size);
  char version[256] = {0};
  int length = 0;
  m.libraryVersion(version, &length);
  std::string v(version, size_t(std::max(0, std::min(length, 255))));
  if (size_t cut = v.find_first_of(",\n"); cut != std::string::npos)
    v.resize(cut);
  return std::unique_ptr<Collective>(new Mpi(m, rank, size, v));
}

} // namespace ninc::rt
