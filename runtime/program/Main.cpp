//===- runtime/program/Main.cpp - main() of a compiled model ---------------===//
//
// `ninc compile MODEL -o out/nin` links this with the generated object:
//   out/nin infer [--limit N] [--weights FILE.pb] [--save-logits F.npy] ...
//   out/nin bench [--iters N]
// The generated object provides ninc_infer() and ninc_descriptor; this file
// needs neither MLIR nor protobuf.
//
//===----------------------------------------------------------------------===//

#include "runtime/data/FashionMnist.h"
#include "runtime/program/Arena.h"
#include "runtime/program/Descriptor.h"
#include "runtime/program/Weights.h"
#include "runtime/support/Npy.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <unistd.h>

extern "C" {
/// Generated: logits[batch, classes] of input[batch, C, H, W] (NCHW), with
/// intermediates in `arena` (descriptor's arena bytes, 64-byte aligned).
void ninc_infer(const float *input, const float *weights, float *logits, uint8_t *arena);
/// Generated: the model descriptor (runtime/program/Descriptor.h).
extern const char ninc_descriptor[];
}

namespace {

using namespace ninc;
using Clock = std::chrono::steady_clock;

constexpr int kOk = 0, kInvalidInput = 1, kUsage = 2;

int fail(const std::string &message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  return kInvalidInput;
}

Expected<std::vector<float>> chooseWeights(const rt::ModelDescriptor &d, const std::string &path,
                                           std::string &origin) {
  if (path.empty()) {
    origin = "untrained: Xavier init, seed " + std::to_string(d.seed);
    return rt::initialWeights(d);
  }
  origin = "weights from " + path;
  return rt::loadWeights(path, d);
}

struct InferOptions {
  std::string dataDir, split = "test", weights, saveLogits, imagesFile, labelsFile;
  int64_t limit = 0;
  bool quiet = false;
};

int infer(const rt::ModelDescriptor &d, const InferOptions &o) {
  if (d.channels != 1 || d.classes != data::kNumClasses)
    return fail("error: Fashion-MNIST needs a model with 1 input channel and 10 classes; '" +
                d.model + "' has " + std::to_string(d.channels) + " and " +
                std::to_string(d.classes));
  std::string origin;
  auto weights = chooseWeights(d, o.weights, origin);
  if (!weights)
    return fail(weights.message());
  auto ds = !o.imagesFile.empty()
                ? data::loadIdx(o.imagesFile, o.labelsFile)
                : data::loadFashionMnist(o.dataDir.empty() ? data::defaultDataDir() : o.dataDir,
                                         o.split == "train" ? data::Split::Train
                                                            : data::Split::Test);
  if (!ds)
    return fail(ds.message());
  const int64_t total = o.limit > 0 ? std::min(o.limit, ds->count) : ds->count;
  const std::string what = o.imagesFile.empty() ? o.split : "IDX";
  const int64_t image = d.channels * d.height * d.width;
  if (!o.quiet)
    std::printf("classifying %lld %s images (%lldx%lld) with compiled '%s' (batch %lld), %s\n",
                (long long)total, what.c_str(), (long long)d.height, (long long)d.width,
                d.model.c_str(), (long long)d.batch, origin.c_str());
  std::fflush(stdout);

  std::vector<float> images(d.batch * image), logits(d.batch * d.classes), all;
  rt::Arena arena(d.arenaBytes);
  if (!arena.data())
    return fail("error: cannot allocate the " + std::to_string(d.arenaBytes) +
                "-byte arena for intermediates");
  std::vector<int32_t> labels(d.batch);
  std::vector<int64_t> order(total);
  std::iota(order.begin(), order.end(), 0);
  const bool progress = !o.quiet && isatty(fileno(stderr));
  int64_t correct = 0;
  double computeSeconds = 0;
  for (int64_t first = 0; first < total; first += d.batch) {
    int n = int(std::min<int64_t>(d.batch, total - first));
    std::fill(images.begin(), images.end(), 0.0f); // a short last batch is padded
    data::makeBatch(*ds, order.data() + first, n, int(d.height), int(d.width), images.data(),
                    labels.data());
    auto t0 = Clock::now();
    ninc_infer(images.data(), weights->data(), logits.data(), arena.data());
    computeSeconds += std::chrono::duration<double>(Clock::now() - t0).count();
    for (int i = 0; i < n; ++i) {
      const float *row = logits.data() + i * d.classes;
      correct += std::max_element(row, row + d.classes) - row == labels[i];
    }
    if (!o.saveLogits.empty())
      all.insert(all.end(), logits.begin(), logits.begin() + n * d.classes);
    if (progress)
      std::fprintf(stderr, "\r  %lld/%lld images", (long long)(first + n), (long long)total);
  }
  if (progress)
    std::fprintf(stderr, "\n");
  std::printf("accuracy %.4f (%lld/%lld %s images), %.1f images/s\n",
              total ? double(correct) / total : 0.0, (long long)correct, (long long)total,
              what.c_str(), computeSeconds > 0 ? total / computeSeconds : 0.0);
  if (!o.saveLogits.empty())
    if (Status s = writeNpy(o.saveLogits, {total, d.classes}, all.data()); !s)
      return fail(s.message());
  return kOk;
}

int bench(const rt::ModelDescriptor &d, int iters, int warmup) {
  std::vector<float> weights = rt::initialWeights(d);
  std::vector<float> images(d.batch * d.channels * d.height * d.width);
  for (size_t i = 0; i < images.size(); ++i)
    images[i] = float(i % 251) / 251.0f;
  std::vector<float> logits(d.batch * d.classes);
  rt::Arena arena(d.arenaBytes);
  if (!arena.data())
    return fail("error: cannot allocate the " + std::to_string(d.arenaBytes) +
                "-byte arena for intermediates");
  for (int i = 0; i < warmup; ++i)
    ninc_infer(images.data(), weights.data(), logits.data(), arena.data());
  std::vector<double> times;
  for (int i = 0; i < iters; ++i) {
    auto t0 = Clock::now();
    ninc_infer(images.data(), weights.data(), logits.data(), arena.data());
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  double median = times[times.size() / 2];
  std::printf("model %s, batch %lld, inference: median %.2f ms/batch, %.1f images/s (%d runs); "
              "arena %.1f MiB, weights %.1f MiB\n",
              d.model.c_str(), (long long)d.batch, median * 1e3, d.batch / median, iters,
              d.arenaBytes / 1048576.0, d.blobSize * 4 / 1048576.0);
  return kOk;
}

} // namespace

int main(int argc, char **argv) {
  auto desc = rt::parseDescriptor(ninc_descriptor);
  if (!desc)
    return fail(std::string("internal error: ") + desc.message());
  CLI::App app{"Model '" + desc->model + "' compiled by ninc (batch " +
               std::to_string(desc->batch) + ", input " + std::to_string(desc->channels) + "x" +
               std::to_string(desc->height) + "x" + std::to_string(desc->width) + ")"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads,-j", threads, "Threads (default: all cores; sets OMP_NUM_THREADS)")
      ->check(CLI::Range(0, 1024));

  InferOptions io;
  CLI::App *inferCmd = app.add_subcommand("infer", "Classify Fashion-MNIST images, print accuracy");
  inferCmd->add_option("--data-dir", io.dataDir, "Folder with the Fashion-MNIST IDX files");
  inferCmd->add_option("--split", io.split, "Which images")
      ->check(CLI::IsMember({"test", "train"}))
      ->capture_default_str();
  inferCmd->add_option("--limit,-n", io.limit, "Only the first N images (0: all)")
      ->check(CLI::NonNegativeNumber);
  CLI::Option *imagesOpt =
      inferCmd->add_option("--images", io.imagesFile, "IDX image file (gzip or raw), instead of "
                                                      "the Fashion-MNIST split; needs --labels");
  CLI::Option *labelsOpt =
      inferCmd->add_option("--labels", io.labelsFile, "IDX label file matching --images");
  imagesOpt->needs(labelsOpt);
  labelsOpt->needs(imagesOpt);
  inferCmd->add_option("--weights", io.weights,
                       "Binary model file (.pb) with trained weights (default: Xavier init "
                       "from the spec's seed)");
  inferCmd->add_option("--save-logits", io.saveLogits, "Write the logits as a NumPy .npy file");
  inferCmd->add_flag("--quiet,-q", io.quiet, "Print only the result line");

  int iters = 10, warmup = 2;
  CLI::App *benchCmd = app.add_subcommand("bench", "Time inference on one batch");
  benchCmd->add_option("--iters", iters, "Timed runs")->capture_default_str()->check(CLI::PositiveNumber);
  benchCmd->add_option("--warmup", warmup, "Untimed runs first")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    app.exit(e);
    return kUsage;
  }
  if (threads > 0)
    setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 1);
  if (inferCmd->parsed())
    return infer(*desc, io);
  return bench(*desc, iters, warmup);
}
