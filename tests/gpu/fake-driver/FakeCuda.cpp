//===- tests/gpu/fake-driver/FakeCuda.cpp - A libcuda.so.1 for tests -------===//
//
// Built as libcuda.so.1 in a folder of its own, put first on LD_LIBRARY_PATH,
// it lets a CUDA program compiled by ninc run on a machine without a GPU so
// that its driver glue (runtime/cuda) is tested: device memory is host
// memory, modules are remembered, launches are counted but run nothing.
// Streams run what is enqueued at once, in order, except while one captures
// (cuStreamBeginCapture): then launches, copies and memsets are recorded
// into a graph, which cuGraphLaunch replays (its launches counted again,
// its copies done again). As the real driver in the thread-local capture
// mode, a call that would wait for the GPU, allocate or load a module while
// a stream captures fails with CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED and
// invalidates the capture.
// FAKE_CUDA selects a failure to test the program's message for:
//   nodevice    cuInit reports no device
//   oldgpu      the device is sm_70 and cuModuleLoadData has no binary for it
//   oom         every cuMemAlloc fails with out of memory
//   fault       the first synchronisation (of the context or a stream)
//               reports an illegal address
// FAKE_CUDA_TRACE=1 prints the counts at exit, in two lines:
//   "fake cuda: graphs: G captured, I instantiated (C kernels), R launched;
//    copies: U uploads (P pageable), D downloads (Q pageable), S synchronous;
//    streams: N non-blocking, Z calls on the default stream"
//   "fake cuda: M modules loaded, K kernels looked up, L launches"
// (L counts every kernel run: launched directly or by a graph; C the kernels
// of the instantiated graphs; uploads and downloads are the async copies,
// pageable those whose host side is not cuMemAllocHost memory.)
// fake_cuda_count(NAME) returns one count to a test linked against the
// runtime (tests/gpu/fake-driver/ResidencyTest.cpp).
//
//===----------------------------------------------------------------------===//
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

enum : int {
  kSuccess = 0,
  kInvalidValue = 1,
  kOutOfMemory = 2,
  kNoDevice = 100,
  kNoBinaryForGpu = 209,
  kIllegalAddress = 700,
  kCaptureUnsupported = 900,
  kCaptureInvalidated = 901,
  kCaptureUnmatched = 903,
  kCaptureImplicit = 906,
};

std::string mode() {
  const char *m = std::getenv("FAKE_CUDA");
  return m ? m : "";
}

struct Counts {
  std::atomic<long> modules{0}, functions{0}, launches{0};
  std::atomic<long> captured{0}, instantiated{0}, graphKernels{0}, graphLaunches{0};
  std::atomic<long> uploads{0}, pageableUploads{0}, downloads{0}, pageableDownloads{0};
  std::atomic<long> syncCopies{0}, streams{0}, defaultStream{0};
} counts;

struct Trace {
  ~Trace() {
    if (!std::getenv("FAKE_CUDA_TRACE"))
      return;
    const Counts &c = counts;
    std::fprintf(stderr,
                 "fake cuda: graphs: %ld captured, %ld instantiated (%ld kernels), %ld "
                 "launched; copies: %ld uploads (%ld pageable), %ld downloads (%ld pageable), "
                 "%ld synchronous; streams: %ld non-blocking, %ld calls on the default stream\n",
                 c.captured.load(), c.instantiated.load(), c.graphKernels.load(),
                 c.graphLaunches.load(), c.uploads.load(), c.pageableUploads.load(),
                 c.downloads.load(), c.pageableDownloads.load(), c.syncCopies.load(),
                 c.streams.load(), c.defaultStream.load());
    std::fprintf(stderr, "fake cuda: %ld modules loaded, %ld kernels looked up, %ld launches\n",
                 c.modules.load(), c.functions.load(), c.launches.load());
  }
} trace;

/// What a graph (or a capture in progress) holds: the recorded operations
/// and how many of them are kernel launches.
struct Graph {
  std::vector<std::function<void()>> ops;
  long kernels = 0;
};

struct Stream {
  bool capturing = false, invalidated = false;
  Graph recorded;
};

std::mutex mutex; // the pinned map; everything else is used from one thread
std::map<uintptr_t, size_t> pinned; // cuMemAllocHost blocks: start -> bytes
Stream *capturing = nullptr;        // the stream capturing, if any

bool isPinned(const void *p) {
  std::lock_guard<std::mutex> lock(mutex);
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = pinned.upper_bound(a);
  if (it == pinned.begin())
    return false;
  --it;
  return a < it->first + it->second;
}

/// A call the thread-local capture mode forbids while a stream captures:
/// true (and the capture is invalidated) if one does.
bool forbiddenNow() {
  if (!capturing)
    return false;
  capturing->invalidated = true;
  return true;
}

/// Runs `op` on `stream` now, or records it if the stream captures.
void enqueue(void *stream, std::function<void()> op, bool kernel) {
  if (!stream)
    ++counts.defaultStream;
  auto *s = static_cast<Stream *>(stream);
  if (s && s->capturing) {
    s->recorded.ops.push_back(std::move(op));
    s->recorded.kernels += kernel;
    return;
  }
  op();
}

int synchronise() {
  static bool faulted = false;
  if (forbiddenNow())
    return kCaptureUnsupported;
  if (mode() == "fault" && !faulted) {
    faulted = true;
    return kIllegalAddress;
  }
  return kSuccess;
}

} // namespace

extern "C" {

long fake_cuda_count(const char *name) {
  const std::map<std::string, const std::atomic<long> *> all = {
      {"modules", &counts.modules},
      {"functions", &counts.functions},
      {"launches", &counts.launches},
      {"captured", &counts.captured},
      {"instantiated", &counts.instantiated},
      {"graph kernels", &counts.graphKernels},
      {"graph launches", &counts.graphLaunches},
      {"uploads", &counts.uploads},
      {"pageable uploads", &counts.pageableUploads},
      {"downloads", &counts.downloads},
      {"pageable downloads", &counts.pageableDownloads},
      {"synchronous copies", &counts.syncCopies},
      {"streams", &counts.streams},
      {"default stream", &counts.defaultStream},
  };
  auto it = all.find(name);
  return it == all.end() ? -1 : it->second->load();
}

int cuInit(unsigned) { return mode() == "nodevice" ? kNoDevice : kSuccess; }
int cuDeviceGetCount(int *n) {
  *n = 1;
  return kSuccess;
}
int cuDeviceGet(int *d, int) {
  *d = 0;
  return kSuccess;
}
int cuDeviceGetName(char *name, int len, int) {
  std::snprintf(name, size_t(len), "Fake GPU");
  return kSuccess;
}
int cuDeviceGetAttribute(int *v, int attr, int) {
  bool old = mode() == "oldgpu";
  *v = attr == 75 ? (old ? 7 : 9) : 0; // compute capability major, minor
  return kSuccess;
}
int cuDevicePrimaryCtxRetain(void **ctx, int) {
  static int context;
  *ctx = &context;
  return kSuccess;
}
int cuCtxSetCurrent(void *) { return kSuccess; }
int cuCtxSynchronize() { return synchronise(); }
int cuModuleLoadData(void **module, const void *image) {
  if (forbiddenNow())
    return kCaptureUnsupported;
  if (mode() == "oldgpu")
    return kNoBinaryForGpu;
  // A cubin is an ELF file.
  if (std::memcmp(image, "\x7f" "ELF", 4) != 0)
    return 200; // CUDA_ERROR_INVALID_IMAGE
  ++counts.modules;
  *module = const_cast<void *>(image);
  return kSuccess;
}
int cuModuleGetFunction(void **f, void *module, const char *) {
  ++counts.functions;
  *f = module;
  return kSuccess;
}
int cuLaunchKernel(void *, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                   unsigned bz, unsigned, void *stream, void **, void **) {
  if (!gx || !gy || !gz || !bx || !by || !bz || bx * by * bz > 1024)
    return kInvalidValue;
  enqueue(stream, [] { ++counts.launches; }, /*kernel=*/true);
  return kSuccess;
}
int cuMemAlloc_v2(unsigned long long *p, size_t bytes) {
  if (forbiddenNow())
    return kCaptureUnsupported;
  if (mode() == "oom")
    return kOutOfMemory;
  *p = reinterpret_cast<unsigned long long>(std::calloc(1, bytes));
  return *p ? kSuccess : kOutOfMemory;
}
int cuMemFree_v2(unsigned long long p) {
  if (forbiddenNow())
    return kCaptureUnsupported;
  std::free(reinterpret_cast<void *>(p));
  return kSuccess;
}
int cuMemAllocHost_v2(void **p, size_t bytes) {
  if (forbiddenNow())
    return kCaptureUnsupported;
  *p = std::calloc(1, bytes);
  if (!*p)
    return kOutOfMemory;
  std::lock_guard<std::mutex> lock(mutex);
  pinned[reinterpret_cast<uintptr_t>(*p)] = bytes;
  return kSuccess;
}
int cuMemFreeHost(void *p) {
  if (forbiddenNow())
    return kCaptureUnsupported;
  {
    std::lock_guard<std::mutex> lock(mutex);
    pinned.erase(reinterpret_cast<uintptr_t>(p));
  }
  std::free(p);
  return kSuccess;
}
// The synchronous copies, which the runtime no longer uses (counted).
int cuMemcpyHtoD_v2(unsigned long long dst, const void *src, size_t n) {
  if (forbiddenNow())
    return kCaptureUnsupported;
  ++counts.syncCopies;
  std::memcpy(reinterpret_cast<void *>(dst), src, n);
  return kSuccess;
}
int cuMemcpyDtoH_v2(void *dst, unsigned long long src, size_t n) {
  if (forbiddenNow())
    return kCaptureUnsupported;
  ++counts.syncCopies;
  std::memcpy(dst, reinterpret_cast<const void *>(src), n);
  return kSuccess;
}
int cuMemcpyHtoDAsync_v2(unsigned long long dst, const void *src, size_t n, void *stream) {
  ++counts.uploads;
  counts.pageableUploads += !isPinned(src);
  enqueue(stream, [=] { std::memcpy(reinterpret_cast<void *>(dst), src, n); }, false);
  return kSuccess;
}
int cuMemcpyDtoHAsync_v2(void *dst, unsigned long long src, size_t n, void *stream) {
  ++counts.downloads;
  counts.pageableDownloads += !isPinned(dst);
  enqueue(stream, [=] { std::memcpy(dst, reinterpret_cast<const void *>(src), n); }, false);
  return kSuccess;
}
int cuMemcpyDtoDAsync_v2(unsigned long long dst, unsigned long long src, size_t n,
                         void *stream) {
  enqueue(stream,
          [=] {
            std::memmove(reinterpret_cast<void *>(dst), reinterpret_cast<const void *>(src), n);
          },
          false);
  return kSuccess;
}
int cuMemsetD32Async(unsigned long long dst, unsigned v, size_t n, void *stream) {
  enqueue(stream,
          [=] {
            auto *p = reinterpret_cast<unsigned *>(dst);
            for (size_t i = 0; i < n; ++i)
              p[i] = v;
          },
          false);
  return kSuccess;
}
int cuStreamCreate(void **stream, unsigned flags) {
  if (flags != 1) // CU_STREAM_NON_BLOCKING: the runtime's stream
    return kInvalidValue;
  ++counts.streams;
  *stream = new Stream;
  return kSuccess;
}
int cuStreamSynchronize(void *) { return synchronise(); }
int cuStreamBeginCapture_v2(void *stream, int) {
  if (!stream)
    return kCaptureImplicit;
  if (capturing)
    return kCaptureUnsupported;
  capturing = static_cast<Stream *>(stream);
  *capturing = Stream{};
  capturing->capturing = true;
  return kSuccess;
}
int cuStreamEndCapture(void *stream, void **graph) {
  auto *s = static_cast<Stream *>(stream);
  *graph = nullptr;
  if (!s || s != capturing)
    return kCaptureUnmatched;
  capturing = nullptr;
  s->capturing = false;
  if (s->invalidated)
    return kCaptureInvalidated;
  ++counts.captured;
  *graph = new Graph(std::move(s->recorded));
  s->recorded = Graph{};
  return kSuccess;
}
int cuGraphInstantiateWithFlags(void **exec, void *graph, unsigned long long) {
  if (!graph)
    return kInvalidValue;
  auto *g = new Graph(*static_cast<Graph *>(graph));
  ++counts.instantiated;
  counts.graphKernels += g->kernels;
  *exec = g;
  return kSuccess;
}
int cuGraphLaunch(void *exec, void *stream) {
  if (!exec)
    return kInvalidValue;
  ++counts.graphLaunches;
  auto *g = static_cast<Graph *>(exec);
  enqueue(stream,
          [g] {
            for (const std::function<void()> &op : g->ops)
              op();
          },
          false);
  return kSuccess;
}
int cuGraphDestroy(void *graph) {
  delete static_cast<Graph *>(graph);
  return kSuccess;
}
int cuGraphExecDestroy(void *exec) {
  delete static_cast<Graph *>(exec);
  return kSuccess;
}
int cuEventCreate(void **e, unsigned) {
  static int event;
  *e = &event;
  return kSuccess;
}
int cuEventDestroy_v2(void *) { return kSuccess; }
int cuEventRecord(void *, void *stream) {
  if (!stream)
    ++counts.defaultStream;
  return kSuccess;
}
int cuEventSynchronize(void *) { return forbiddenNow() ? kCaptureUnsupported : kSuccess; }
int cuStreamWaitEvent(void *stream, void *, unsigned) {
  if (!stream)
    ++counts.defaultStream;
  return kSuccess;
}
int cuGetErrorString(int r, const char **text) {
  switch (r) {
  case kOutOfMemory: *text = "out of memory"; break;
  case kIllegalAddress: *text = "an illegal memory access was encountered"; break;
  case kNoBinaryForGpu: *text = "no kernel image is available for execution on the device"; break;
  case kCaptureUnsupported: *text = "operation not permitted when stream is capturing"; break;
  case kCaptureInvalidated:
    *text = "operation failed due to a previous error during capture";
    break;
  default: *text = "fake error"; break;
  }
  return kSuccess;
}
int cuMemGetInfo_v2(size_t *free, size_t *total) {
  *free = size_t(1) << 30;
  *total = size_t(2) << 30;
  return kSuccess;
}

} // extern "C"
