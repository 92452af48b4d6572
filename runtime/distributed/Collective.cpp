//===- runtime/distributed/Collective.cpp - Launch detection and the stand-in ---===//

#include "runtime/distributed/Collective.h"

#include <cstdlib>
#include <cstring>
#include <string>

namespace ninc::rt {

namespace {

/// A positive integer from the environment, else 0.
int envCount(const char *name) {
  const char *v = std::getenv(name);
  if (!v || !*v)
    return 0;
  char *end = nullptr;
  long n = std::strtol(v, &end, 10);
  return *end == '\0' && n > 0 && n < (1 << 24) ? int(n) : 0;
}

} // namespace

int launchedRanks() {
  if (int n = envCount("OMPI_COMM_WORLD_SIZE"))
    return n;
  if (int n = envCount("PMI_SIZE"))
    return n;
  if (std::getenv("SLURM_PROCID"))
    if (int n = envCount("SLURM_NTASKS"))
      return n;
  return 1;
}

int launchedLocalRanks() {
  for (const char *name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"})
    if (int n = envCount(name))
      return n;
  if (std::getenv("SLURM_PROCID"))
    if (int n = envCount("SLURM_NTASKS_PER_NODE"))
      return n;
  return 1;
}

Expected<std::unique_ptr<Collective>> collectiveFromEnvironment() {
  if (launchedRanks() > 1)
    return openMpi();
  return std::unique_ptr<Collective>(new SingleProcess());
}

// --- The stand-in: threads of one process ---------------------------------

struct LocalGroup::Shared {
  explicit Shared(int n) : size(n), slots(size_t(n), nullptr) {}

  /// Every member waits here until all have arrived.
  void barrier() {
    std::unique_lock<std::mutex> lock(m);
    const uint64_t gen = generation;
    if (++arrived == size) {
      arrived = 0;
      ++generation;
      cv.notify_all();
      return;
    }
    cv.wait(lock, [&] { return generation != gen; });
  }

  const int size;
  std::mutex m;
  std::condition_variable cv;
  int arrived = 0;
  uint64_t generation = 0;
  std::vector<void *> slots; ///< Each member's buffer of the call in flight.
};

namespace {

class LocalMember final : public Collective {
public:
  LocalMember(LocalGroup::Shared &s, int rank) : s_(s), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return s_.size; }
  std::string name() const override { return "threads of one process (test stand-in)"; }
  Status allreduceSum(float *data, size_t count) override {
    return reduce(data, count, [](float a, float b) { return a + b; });
  }
  Status allreduceSum(double *data, size_t count) override {
    return reduce(data, count, [](double a, double b) { return a + b; });
  }
  Status allreduceMax(double *data, size_t count) override {
    return reduce(data, count, [](double a, double b) { return b > a ? b : a; });
  }
  Status broadcast(void *data, size_t bytes, int root) override {
    s_.slots[size_t(rank_)] = data;
    s_.barrier();
    if (rank_ != root)
      std::memcpy(data, s_.slots[size_t(root)], bytes);
    s_.barrier();
    return Status::ok();
  }

private:
  /// Every member folds the buffers in rank order (the same result on all),
  /// then, once all have read, writes its own.
  template <typename T, typename Op> Status reduce(T *data, size_t count, Op op) {
    s_.slots[size_t(rank_)] = data;
    s_.barrier();
    std::vector<T> result(static_cast<const T *>(s_.slots[0]),
                          static_cast<const T *>(s_.slots[0]) + count);
    for (int r = 1; r < s_.size; ++r) {
      const T *other = static_cast<const T *>(s_.slots[size_t(r)]);
      for (size_t i = 0; i < count; ++i)
        result[i] = op(result[i], other[i]);
    }
    s_.barrier();
    std::memcpy(data, result.data(), count * sizeof(T));
    return Status::ok();
  }

  LocalGroup::Shared &s_;
  const int rank_;
};

} // namespace

LocalGroup::LocalGroup(int size) : shared_(std::make_unique<Shared>(size)) {
  for (int r = 0; r < size; ++r)
    members_.push_back(std::make_unique<LocalMember>(*shared_, r));
}

LocalGroup::~LocalGroup() = default;

Collective &LocalGroup::member(int rank) { return *members_[size_t(rank)]; }

} // namespace ninc::rt
