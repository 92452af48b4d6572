//===- tests/gpu/fake-driver/ResidencyTest.cpp - runtime/cuda's data flow -===//
//
// The CUDA runtime (runtime/cuda: ninc_infer, ninc_train_step) linked with
// a stand-in for the generated code and run against the fake driver
// (FakeCuda.cpp, device memory is host memory), so that what the GPU
// computes is known: the stand-in's inference copies input[0..9] and the
// device weights[0..9] into the logits with mgpuMemcpy (stream operations,
// so a CUDA graph records and replays them); its step adds the learning
// rate to every device weight and 1 to every velocity. Checked: the values
// each call sees and returns, and how often the blobs cross the bus
// (fake_cuda_count), for
//   resident        after ninc_device_keep_weights (runtime/program/Main.cpp)
//   plain           without it (every other caller, the C API's rule)
//   unsafe-capture  the stand-in allocates while its launches are captured
//   no-graphs       NINC_CUDA_GRAPHS=0
// Usage: fake_cuda_residency MODE, with the fake libcuda.so.1 first on
// LD_LIBRARY_PATH; exit 0 when every check passes.
//
//===----------------------------------------------------------------------===//
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <string>
#include <vector>

extern "C" {
// The runtime's entry points (runtime/cuda).
void ninc_infer(const float *input, const float *weights, float *logits, uint8_t *arena,
                int32_t repack);
void ninc_train_step(const float *input, const int32_t *labels, float *weights, float *velocity,
                     const float *hyper, uint64_t seed, uint64_t step, uint64_t firstImage,
                     float *loss, float *logits, uint8_t *arena);
void ninc_device_keep_weights();
void ninc_device_sync_weights();
// What the generated host code calls (runtime/cuda/Mgpu.cpp).
void *mgpuModuleLoad(void *data, size_t size);
void *mgpuModuleGetFunction(void *module, const char *name);
void *mgpuStreamCreate();
void mgpuStreamSynchronize(void *stream);
void mgpuStreamDestroy(void *stream);
void mgpuModuleUnload(void *module);
void mgpuLaunchKernel(void *f, intptr_t gx, intptr_t gy, intptr_t gz, intptr_t bx, intptr_t by,
                      intptr_t bz, int32_t smem, void *stream, void **params, void **extra,
                      size_t paramsCount);
void *mgpuMemAlloc(uint64_t bytes, void *stream, bool hostShared);
void mgpuMemFree(void *p, void *stream);
void mgpuMemcpy(void *dst, void *src, size_t bytes, void *stream);

// The stand-in for the generated object: 16 weights, batch 2 of 1x4x4
// images, 10 classes (logits 2 x 10).
extern const char ninc_descriptor[] = "ninc-descriptor 1\nmodel fake\nbatch 2\ninput 1 4 4\n"
                                      "classes 10\nseed 1\nmagnitude 3\nweights 16\n"
                                      "arena 64\ntrain_arena 64\n";
extern const char ninc_gpu_arch[] = "sm_90";
}

namespace {

constexpr int kWeights = 16, kInput = 32, kLogits = 20;
bool allocateWhileRunning = false; // unsafe-capture
int failures = 0;

#define EXPECT(cond)                                                                           \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);            \
      ++failures;                                                                              \
    }                                                                                          \
  } while (0)

const char kCubin[] = "\x7f" "ELF stand-in cubin";

/// One launch of a kernel that does nothing (the fake counts it).
void launch(void *stream) {
  void *module = mgpuModuleLoad(const_cast<char *>(kCubin), sizeof kCubin);
  void *f = mgpuModuleGetFunction(module, "k");
  mgpuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, stream, nullptr, nullptr, 0);
  mgpuModuleUnload(module);
}

long count(const char *name) {
  static auto fn = [] {
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    auto *f = lib ? reinterpret_cast<long (*)(const char *)>(dlsym(lib, "fake_cuda_count"))
                  : nullptr;
    if (!f) {
      std::fprintf(stderr, "error: the fake libcuda.so.1 is not loaded (LD_LIBRARY_PATH)\n");
      std::exit(2);
    }
    return f;
  }();
  return fn(name);
}

std::vector<float> iota(float first) {
  std::vector<float> v(kWeights);
  for (int i = 0; i < kWeights; ++i)
    v[i] = first + float(i);
  return v;
}

/// The logits a call returns: input[0..9], then the device weights[0..9].
void expectLogits(const std::vector<float> &logits, const std::vector<float> &input,
                  const std::vector<float> &deviceWeights, int line) {
  bool ok = true;
  for (int i = 0; i < 10; ++i)
    ok = ok && logits[i] == input[i] && logits[10 + i] == deviceWeights[i];
  if (!ok) {
    std::fprintf(stderr, "%s:%d: unexpected logits: %g %g ... %g %g (expected %g %g ... %g %g)\n",
                 __FILE__, line, logits[0], logits[1], logits[10], logits[11], input[0], input[1],
                 deviceWeights[0], deviceWeights[1]);
    ++failures;
  }
}

std::vector<float> plus(const std::vector<float> &v, float x) {
  std::vector<float> r = v;
  for (float &f : r)
    f += x;
  return r;
}

struct Run {
  std::vector<float> input = std::vector<float>(kInput), logits = std::vector<float>(kLogits);
  std::vector<int32_t> labels = {3, 4};
  float hyper[3] = {0.5f, 0.0f, 0.0f};
  uint64_t step = 0;

  void newBatch(float first) {
    for (int i = 0; i < kInput; ++i)
      input[i] = first + float(i);
  }
  void infer(const std::vector<float> &weights) {
    ninc_infer(input.data(), weights.data(), logits.data(), nullptr, 1);
  }
  float trainStep(std::vector<float> &weights, std::vector<float> &velocity) {
    float loss = -1;
    ninc_train_step(input.data(), labels.data(), weights.data(), velocity.data(), hyper, 7,
                    step++, /*firstImage=*/0, &loss, logits.data(), nullptr);
    return loss;
  }
};

void resident() {
  ninc_device_keep_weights();
  Run r;
  const std::vector<float> w0 = iota(0);
  std::vector<float> w = w0, v(kWeights, 0.0f);
  for (int k = 1; k <= 3; ++k) {
    r.newBatch(100 * k);
    EXPECT(r.trainStep(w, v) == float(k - 1)); // the stand-in's loss: the step number
    EXPECT(r.logits[0] == r.input[0] + 3 && r.logits[1] == r.input[16] + 4);
    EXPECT(r.logits[10] == w0[0] + 0.5f * k);
  }
  // Uploaded once, not downloaded: the host copy is stale until synced.
  EXPECT(count("pageable uploads") == 2);
  EXPECT(count("pageable downloads") == 0);
  EXPECT(w == w0);
  // Evaluation with the training weights runs on the device copy.
  r.newBatch(1000);
  r.infer(w);
  expectLogits(r.logits, r.input, plus(w0, 1.5f), __LINE__);
  EXPECT(count("pageable uploads") == 2);
  // The sync writes both blobs back, once.
  ninc_device_sync_weights();
  ninc_device_sync_weights();
  EXPECT(w == plus(w0, 1.5f));
  EXPECT(v == std::vector<float>(kWeights, 3.0f));
  EXPECT(count("pageable downloads") == 2);
  // Later batches: the second call captures, every call after replays; each
  // replay reads the new batch.
  for (int k = 0; k < 3; ++k) {
    r.newBatch(2000 + 100 * k);
    r.infer(w);
    expectLogits(r.logits, r.input, w, __LINE__);
  }
  EXPECT(count("instantiated") == 1 && count("graph launches") == 3);
  EXPECT(count("pageable uploads") == 2);
  // Other weights (another model, or a file): uploaded, the graph kept.
  const std::vector<float> other = iota(-50);
  r.infer(other);
  expectLogits(r.logits, r.input, other, __LINE__);
  EXPECT(count("pageable uploads") == 3 && count("graph launches") == 4);
  // Back to training: the training weights again (the velocity never left).
  r.trainStep(w, v);
  EXPECT(r.logits[10] == w0[0] + 2.0f);
  EXPECT(count("pageable uploads") == 4);
  // A step on other buffers while the device holds newer values of these:
  // those are written back first.
  std::vector<float> w2 = iota(10), v2(kWeights, 10.0f);
  r.trainStep(w2, v2);
  EXPECT(w == plus(w0, 2.0f) && v == std::vector<float>(kWeights, 4.0f));
  EXPECT(r.logits[10] == 10.5f);
  EXPECT(count("pageable uploads") == 6 && count("pageable downloads") == 4);
  ninc_device_sync_weights();
  EXPECT(w2 == plus(iota(10), 0.5f) && v2 == std::vector<float>(kWeights, 11.0f));
}

void plain() {
  Run r;
  const std::vector<float> w0 = iota(0);
  std::vector<float> w = w0, v(kWeights, 0.0f);
  // Every step uploads and downloads both blobs: the host is always current.
  r.trainStep(w, v);
  r.trainStep(w, v);
  EXPECT(w == plus(w0, 1.0f) && v == std::vector<float>(kWeights, 2.0f));
  EXPECT(count("pageable uploads") == 4 && count("pageable downloads") == 4);
  // Weights edited in place between calls (the C API's users may) are seen.
  for (int k = 0; k < 4; ++k) {
    w[0] = float(100 * k);
    r.newBatch(float(k));
    r.infer(w);
    expectLogits(r.logits, r.input, w, __LINE__);
  }
  EXPECT(count("pageable uploads") == 8);
  EXPECT(count("instantiated") == 1 && count("graph launches") == 3);
}

void unsafeCapture() {
  ninc_device_keep_weights();
  allocateWhileRunning = true;
  Run r;
  const std::vector<float> w = iota(0);
  for (int k = 0; k < 4; ++k) {
    r.newBatch(float(10 * k));
    r.infer(w);
    expectLogits(r.logits, r.input, w, __LINE__);
  }
  // The capture was given up at the allocation (nothing instantiated) and
  // every call ran uncaptured: 4 launches, and 1 by the rest of the
  // abandoned capture, which ran on the stream once the capture ended.
  EXPECT(count("instantiated") == 0 && count("graph launches") == 0);
  EXPECT(count("launches") == 5);
}

void noGraphs() {
  setenv("NINC_CUDA_GRAPHS", "0", 1);
  ninc_device_keep_weights();
  Run r;
  const std::vector<float> w = iota(0);
  for (int k = 0; k < 4; ++k) {
    r.newBatch(float(10 * k));
    r.infer(w);
    expectLogits(r.logits, r.input, w, __LINE__);
  }
  EXPECT(count("captured") == 0 && count("graph launches") == 0 && count("launches") == 4);
  EXPECT(count("pageable uploads") == 1);
}

} // namespace

extern "C" void ninc_device_infer(const float *input, const float *weights, float *logits,
                                  uint8_t *arena, int32_t /*repack*/) {
  void *s = mgpuStreamCreate();
  EXPECT(s != nullptr && arena != nullptr);
  mgpuMemcpy(logits, const_cast<float *>(input), 10 * sizeof(float), s);
  mgpuMemcpy(logits + 10, const_cast<float *>(weights), 10 * sizeof(float), s);
  if (allocateWhileRunning)
    mgpuMemFree(mgpuMemAlloc(64, s, false), s);
  launch(s);
  mgpuStreamSynchronize(s);
  mgpuStreamDestroy(s);
}

// Never captured, so it may touch the (host) memory of the fake's device
// directly: the stream has run everything enqueued before it.
extern "C" void ninc_device_train_step(const float *input, const int32_t *labels, float *weights,
                                       float *velocity, const float *hyper, uint64_t, uint64_t step,
                                       uint64_t, float *loss, float *logits, uint8_t *) {
  void *s = mgpuStreamCreate();
  launch(s);
  for (int i = 0; i < kWeights; ++i) {
    weights[i] += hyper[0];
    velocity[i] += 1.0f;
  }
  *loss = float(step);
  logits[0] = input[0] + float(labels[0]);
  logits[1] = input[16] + float(labels[1]);
  for (int i = 0; i < 10; ++i)
    logits[10 + i] = weights[i];
}

int main(int argc, char **argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "resident")
    resident();
  else if (mode == "plain")
    plain();
  else if (mode == "unsafe-capture")
    unsafeCapture();
  else if (mode == "no-graphs")
    noGraphs();
  else {
    std::fprintf(stderr, "usage: %s resident|plain|unsafe-capture|no-graphs\n", argv[0]);
    return 2;
  }
  EXPECT(count("synchronous copies") == 0 && count("default stream") == 0);
  EXPECT(count("streams") == 1);
  if (failures)
    std::fprintf(stderr, "%s: %d checks failed\n", mode.c_str(), failures);
  else
    std::printf("%s: all checks passed\n", mode.c_str());
  return failures ? 1 : 0;
}
