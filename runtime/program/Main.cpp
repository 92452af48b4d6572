//===- runtime/program/Main.cpp - main() of a compiled model ---------------===//
//
// `ninc compile MODEL -o out/nin` links this with the generated object:
//   out/nin infer [--limit N] [--weights FILE.pb] [--save-logits F.npy] ...
//   out/nin bench [--iters N]
//   out/nin train [--epochs N] [--lr F] [--checkpoint FILE] [--resume FILE] ...
// The generated object provides ninc_infer(), ninc_descriptor and ninc_spec,
// when compiled with --mode=train ninc_train_step(), and, for a model file
// with weights, the weights it embeds (runtime/program/Weights.h); the
// optional ones are declared weak so every object links. This file needs
// neither MLIR nor protobuf. `train` is runtime/program/Train.h's loop over
// the generated step; one arena of max(arena, train_arena) bytes serves both
// the step and inference, which are never called at the same time.
//
//===----------------------------------------------------------------------===//

#include "runtime/data/Datasets.h"
#include "runtime/program/DataOptions.h"
#include "runtime/program/Arena.h"
#include "runtime/program/Descriptor.h"
#include "runtime/program/Profile.h"
#include "runtime/program/Train.h"
#include "runtime/program/Weights.h"
#include "runtime/support/Error.h"
#include "runtime/support/Npy.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <map>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>

extern "C" {
/// Generated: logits[batch, classes] of input[batch, C, H, W] (NCHW), with
/// intermediates in `arena` (descriptor's arena bytes, 64-byte aligned).
/// The CPU code keeps the weights' packed filters at the arena's start:
/// `repack` nonzero packs them (the first call, new weights, or an arena
/// another function used since); 0 reuses what the last call with this
/// arena and these weights left there.
void ninc_infer(const float *input, const float *weights, float *logits, uint8_t *arena,
                int32_t repack);
/// Generated: the model descriptor (runtime/program/Descriptor.h).
extern const char ninc_descriptor[];
/// Generated with --mode=train (else null): one SGD step on a batch, the
/// contract of rt::TrainBackend::step, scratch in `arena` (train_arena bytes).
__attribute__((weak)) void ninc_train_step(const float *input, const int32_t *labels,
                                           float *weights, float *velocity, const float *hyper,
                                           uint64_t seed, uint64_t step, float *loss,
                                           float *logits, uint8_t *arena);
/// The spec as binary protobuf, without weights, for self-contained
/// checkpoints (null in objects of older ninc versions).
__attribute__((weak)) extern const unsigned char ninc_spec[];
__attribute__((weak)) extern const uint64_t ninc_spec_size;
/// CPU programs: the regions compiler/codegen/cpu/Profile.cpp instrumented
/// (absent in CUDA programs and old objects).
__attribute__((weak)) extern int32_t ninc_prof_enabled[];
__attribute__((weak)) extern uint64_t ninc_prof_cycles[];
__attribute__((weak)) extern const char ninc_profile_table[];
/// CUDA programs (runtime/cuda): the device named in the result lines
/// ("cuda"); null in CPU programs.
__attribute__((weak)) const char *ninc_device_name();
/// CUDA programs (runtime/cuda/DeviceInfer.cpp), null in CPU programs: the
/// promise that lets the GPU keep weights and velocities between calls
/// (host buffers change only through ninc_train_step and are synced before
/// they are read after a step; DeviceInfer.cpp has the rules), and the sync.
__attribute__((weak)) void ninc_device_keep_weights();
__attribute__((weak)) void ninc_device_sync_weights();
}

namespace {

using namespace ninc;
using Clock = std::chrono::steady_clock;

int fail(const std::string &message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  return kExitInvalidInput;
}

Expected<std::vector<float>> chooseWeights(const rt::ModelDescriptor &d, const std::string &path,
                                           std::string &origin) {
  if (path.empty())
    return rt::defaultWeights(d, origin);
  origin = "weights from " + path;
  return rt::loadWeights(path, d);
}

struct InferOptions {
  rt::DataOptions data;
  std::string split = "test", weights, saveLogits, imagesFile, labelsFile, testData;
  int64_t limit = 0;
  bool quiet = false;
};

int infer(const rt::ModelDescriptor &d, const InferOptions &o) {
  std::string origin;
  auto weights = chooseWeights(d, o.weights, origin);
  if (!weights)
    return fail(weights.message());
  Expected<data::Dataset> ds = Error{""};
  if (!o.imagesFile.empty())
    ds = data::loadIdx(o.imagesFile, o.labelsFile);
  else
    ds = o.data.load(d, o.testData,
                     o.split == "train" ? data::Split::Train : data::Split::Test);
  if (!ds)
    return fail(ds.message());
  if (ds->channels != d.channels)
    return fail(ds->source + ": error: images of " + std::to_string(ds->channels) +
                " channel(s); the model takes " + std::to_string(d.channels));
  const int64_t total = o.limit > 0 ? std::min(o.limit, ds->count) : ds->count;
  const std::string what = !o.imagesFile.empty() ? "IDX"
                           : !o.testData.empty() ? ds->source
                                                 : o.split;
  const int64_t image = d.channels * d.height * d.width;
  if (!o.quiet)
    std::printf("classifying %lld %s images (%lldx%lld) with compiled '%s' (batch %lld), %s\n",
                (long long)total, what.c_str(), (long long)d.height, (long long)d.width,
                d.model.c_str(), (long long)d.batch, origin.c_str());
  if (!o.quiet && !ds->classNames.empty())
    std::printf("classes: %s\n", rt::classList(*ds).c_str());
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
    ninc_infer(images.data(), weights->data(), logits.data(), arena.data(), first == 0);
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
  return kExitOk;
}

/// Peak resident set size of this process so far, in MiB.
double peakRssMiB() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0; // Linux reports KiB
}

bool canTrain(const rt::ModelDescriptor &d);

/// The time of each instrumented region over `calls` calls that took
/// `seconds` in all (cycle counts converted with the cycles per second of
/// the whole run), against the FMA peak.
void printProfile(const std::vector<rt::ProfileRegion> &regions, const std::string &function,
                  int calls, double seconds, uint64_t cycles, const rt::FmaPeak &peak) {
  const double perSecond = double(cycles) / seconds;
  // Regions with the same description (the weight gradient's per-group
  // pieces, a peeled remainder) are one row, with their count.
  struct Row {
    std::string name;
    int count = 0;
    double sec = 0;
    int64_t flops = 0;
  };
  std::vector<Row> rows;
  std::map<std::string, size_t> byName;
  double covered = 0;
  int64_t flops = 0;
  for (const rt::ProfileRegion &r : regions) {
    if (r.function != function)
      continue;
    double sec = double(ninc_prof_cycles[r.id]) / perSecond / calls;
    auto [it, inserted] = byName.try_emplace(r.name, rows.size());
    if (inserted)
      rows.push_back({r.name});
    Row &row = rows[it->second];
    row.count++;
    row.sec += sec;
    row.flops += r.flops;
    covered += sec;
    flops += r.flops;
  }
  std::sort(rows.begin(), rows.end(), [](const Row &a, const Row &b) { return a.sec > b.sec; });
  const double perCall = seconds / calls;
  size_t regionCount = 0;
  for (const Row &row : rows)
    regionCount += size_t(row.count);
  std::printf("\nprofile of %s (%zu regions, %d calls): %.2f ms a call, %.1f GFLOP/s = %.1f%% "
              "of the %.1f GFLOP/s FMA peak\n",
              function.c_str(), regionCount, calls, perCall * 1e3, flops / perCall / 1e9,
              100.0 * flops / perCall / 1e9 / peak.gflops, peak.gflops);
  std::printf("%9s %6s %9s %6s  %s\n", "ms", "time", "GFLOP/s", "peak", "region");
  const size_t shown = std::min<size_t>(rows.size(), 40);
  for (size_t i = 0; i < shown; ++i) {
    const Row &row = rows[i];
    double gflops = row.sec > 0 ? row.flops / row.sec / 1e9 : 0;
    std::string name = row.count > 1 ? row.name + " (x" + std::to_string(row.count) + ")"
                                     : row.name;
    std::printf("%9.3f %5.1f%% %9.1f %5.1f%%  %s\n", row.sec * 1e3, 100 * row.sec / perCall,
                gflops, 100 * gflops / peak.gflops, name.c_str());
  }
  if (shown < rows.size()) {
    double sec = 0;
    for (size_t i = shown; i < rows.size(); ++i)
      sec += rows[i].sec;
    std::printf("%9.3f %5.1f%% %9s %6s  (%zu more rows)\n", sec * 1e3, 100 * sec / perCall, "",
                "", rows.size() - shown);
  }
  double rest = std::max(0.0, perCall - covered);
  std::printf("%9.3f %5.1f%% %9s %6s  (outside the regions: views, copies, calls)\n",
              rest * 1e3, 100 * rest / perCall, "", "");
}

/// Every region's milliseconds a call as tab-separated lines "region
/// function ms flops name" (`bench --profile-out`, read by ninc's autotuner),
/// written to a temporary file and renamed.
Status writeProfileTable(const std::string &path, const std::vector<rt::ProfileRegion> &regions,
                         int calls, double seconds, uint64_t cycles) {
  const double perSecond = double(cycles) / seconds;
  std::string tmp = path + ".tmp";
  FILE *f = std::fopen(tmp.c_str(), "w");
  if (!f)
    return Error{"--profile-out: cannot write '" + tmp + "': " + std::strerror(errno)};
  for (const rt::ProfileRegion &r : regions)
    std::fprintf(f, "%lld\t%s\t%.6f\t%lld\t%s\n", (long long)r.id, r.function.c_str(),
                 double(ninc_prof_cycles[r.id]) / perSecond / calls * 1e3, (long long)r.flops,
                 r.name.c_str());
  bool ok = std::fclose(f) == 0;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Error{"--profile-out: cannot write '" + path + "'"};
  }
  return Status::ok();
}

/// Times one batch of inference or one training step (synthetic data); with
/// `profile`, also each instrumented region (cpu/Profile.cpp) against the
/// machine's FMA peak.
int bench(const rt::ModelDescriptor &d, const std::string &mode, int iters, int warmup,
          bool profile, const std::string &profileOut) {
  const bool training = mode == "train";
  if (training && !canTrain(d))
    return fail("error: this program was compiled for inference only (recompile with ninc "
                "compile --mode=train)");
  const bool device = ninc_device_name != nullptr;
  if (profile && (device || !ninc_prof_enabled || !ninc_prof_cycles || !ninc_profile_table))
    return fail(device ? "error: --profile times the CPU code; this program runs on " +
                             std::string(ninc_device_name())
                       : "error: this program has no profile regions (recompile it with this "
                         "ninc)");
  std::vector<float> weights = rt::initialWeights(d);
  std::vector<float> velocity(weights.size(), 0.0f);
  std::vector<float> images(d.batch * d.channels * d.height * d.width);
  for (size_t i = 0; i < images.size(); ++i)
    images[i] = float(i % 251) / 251.0f;
  std::vector<int32_t> labels(d.batch);
  for (int64_t i = 0; i < d.batch; ++i)
    labels[i] = int32_t(i % d.classes);
  std::vector<float> logits(d.batch * d.classes);
  const int64_t arenaBytes = training ? std::max(d.arenaBytes, d.trainArenaBytes) : d.arenaBytes;
  rt::Arena arena(arenaBytes);
  if (!arena.data())
    return fail("error: cannot allocate the " + std::to_string(arenaBytes) +
                "-byte arena for intermediates");
  // A small learning rate keeps repeated steps on one batch finite.
  const float hyper[3] = {0.001f, 0.0f, 0.0f};
  float loss = 0;
  uint64_t step = 0;
  int32_t repack = 1; // the weights are packed by the first call, as in serving
  auto run = [&] {
    if (training)
      ninc_train_step(images.data(), labels.data(), weights.data(), velocity.data(), hyper,
                      d.seed, step++, &loss, logits.data(), arena.data());
    else
      ninc_infer(images.data(), weights.data(), logits.data(), arena.data(), repack);
    repack = 0;
  };
  rt::FmaPeak peak;
  if (profile)
    peak = rt::measureFmaPeak(int(d.threads), rt::vectorBitsOf(d.isa));
  for (int i = 0; i < warmup; ++i)
    run();
  std::vector<rt::ProfileRegion> regions;
  if (profile) {
    regions = rt::parseProfileTable(ninc_profile_table);
    std::fill(ninc_prof_cycles, ninc_prof_cycles + regions.size(), 0);
    ninc_prof_enabled[0] = 1;
  }
  std::vector<double> times;
  uint64_t c0 = profile ? __builtin_ia32_rdtsc() : 0;
  auto start = Clock::now();
  for (int i = 0; i < iters; ++i) {
    auto t0 = Clock::now();
    run();
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  double total = std::chrono::duration<double>(Clock::now() - start).count();
  uint64_t cycles = profile ? __builtin_ia32_rdtsc() - c0 : 0;
  if (profile)
    ninc_prof_enabled[0] = 0;
  std::sort(times.begin(), times.end());
  double median = times[times.size() / 2];
  std::printf("model %s, batch %lld, %s: median %.2f ms/%s, %.1f images/s (%d runs); "
              "arena %.1f MiB, weights %.1f MiB, peak RSS %.1f MiB\n",
              d.model.c_str(), (long long)d.batch, training ? "training" : "inference",
              median * 1e3, training ? "step" : "batch", d.batch / median, iters,
              arenaBytes / 1048576.0, d.blobSize * 4 / 1048576.0, peakRssMiB());
  if (profile) {
    std::printf("FMA peak of this machine: %.1f GFLOP/s (%d threads, %s%s, measured now)\n",
                peak.gflops, peak.threads, peak.isa.c_str(),
                peak.capped ? ": the ISA the code was compiled for" : "");
    printProfile(regions, d.model + (training ? "_train_step" : "_infer"), iters, total, cycles,
                 peak);
    if (!profileOut.empty())
      if (Status s = writeProfileTable(profileOut, regions, iters, total, cycles); !s)
        return fail("error: " + s.message());
  }
  return kExitOk;
}

struct TrainCommand {
  rt::TrainOptions options;
  rt::DataOptions data;
  std::string weights, trainData, testData;
  int64_t batch = 0;
  bool fromScratch = false;
};

/// Whether the generated object can train (it was compiled with --mode=train).
bool canTrain(const rt::ModelDescriptor &d) {
  return ninc_train_step && ninc_spec && &ninc_spec_size && d.trainArenaBytes > 0;
}

int train(const rt::ModelDescriptor &d, TrainCommand &c) {
  if (!canTrain(d))
    return fail("error: this program was compiled for inference only (recompile with ninc "
                "compile --mode=train)");
  if (c.batch > 0 && c.batch != d.batch)
    return fail("error: this program was compiled for batch " + std::to_string(d.batch) +
                ", not " + std::to_string(c.batch) + " (recompile with ninc compile --batch=" +
                std::to_string(c.batch) + ")");
  // Fine-tuning: --weights, else the weights embedded from the model file,
  // unless --from-scratch; a resumed run has its own.
  if (c.options.resume.empty() && !c.fromScratch &&
      (!c.weights.empty() || rt::hasEmbeddedWeights())) {
    auto start = chooseWeights(d, c.weights, c.options.initialOrigin);
    if (!start)
      return fail(start.message());
    c.options.initialWeights = std::move(*start);
  }
  if (c.trainData.empty() != c.testData.empty())
    return fail("error: --train-data and --test-data go together (a model is evaluated on "
                "data of the kind it trains on)");
  auto trainSet = c.data.load(d, c.trainData, data::Split::Train);
  if (!trainSet)
    return fail(trainSet.message());
  auto testSet = c.data.load(d, c.testData, data::Split::Test);
  if (!testSet)
    return fail(testSet.message());
  if (!trainSet->classNames.empty() && !testSet->classNames.empty() &&
      trainSet->classNames != testSet->classNames)
    return fail(testSet->source + ": error: classes " + rt::classList(*testSet) + " differ from " +
                trainSet->source + "'s " + rt::classList(*trainSet));
  if (!trainSet->classNames.empty())
    std::printf("classes: %s\n", rt::classList(*trainSet).c_str());
  const int64_t arenaBytes = std::max(d.arenaBytes, d.trainArenaBytes);
  rt::Arena arena(arenaBytes);
  if (!arena.data())
    return fail("error: cannot allocate the " + std::to_string(arenaBytes) +
                "-byte arena for training");
  rt::TrainBackend backend;
  backend.step = [&](const float *input, const int32_t *labels, float *weights, float *velocity,
                     const float *hyper, uint64_t seed, uint64_t step, float *loss,
                     float *logits) {
    ninc_train_step(input, labels, weights, velocity, hyper, seed, step, loss, logits,
                    arena.data());
  };
  // The evaluation packs the weights every time: the steps change them and
  // share the arena.
  backend.infer = [&](const float *input, const float *weights, float *logits) {
    ninc_infer(input, weights, logits, arena.data(), /*repack=*/1);
  };
  if (ninc_device_sync_weights)
    backend.sync = [] { ninc_device_sync_weights(); };
  c.options.specBytes.assign(reinterpret_cast<const char *>(ninc_spec), ninc_spec_size);
  auto result = rt::train(backend, d, *trainSet, *testSet, c.options);
  if (!result)
    return fail(result.message());
  if (c.options.checkpoint.empty() && result->examplesPerSecond > 0)
    std::fprintf(stderr, "note: the trained weights were not saved (--checkpoint FILE.pb "
                         "saves them)\n");
  return kExitOk;
}

/// `train`'s options; unset ones default to the resumed checkpoint's, else
/// the spec's training recipe (shown in --help).
CLI::App *addTrainCommand(CLI::App &app, const rt::ModelDescriptor &d, TrainCommand &c,
                          int &threads) {
  rt::TrainOptions &o = c.options;
  o.device = ninc_device_name ? ninc_device_name() : "cpu";
  CLI::App *cmd = app.add_subcommand(
      "train", "Train on Fashion-MNIST, a .npz or an image folder (d2l's protocol: shuffled "
               "batches, SGD, the "
               "chapter's per-epoch line)");
  auto recipe = [](auto v) {
    std::ostringstream os;
    os << v;
    return " (default: the checkpoint's, else the spec's " + os.str() + ")";
  };
  cmd->add_option("--epochs", o.epochs,
                  "Total epochs, resumed ones included (default: the spec's " +
                      std::to_string(d.epochs) + ")")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--lr", o.learningRate, "Learning rate" + recipe(d.learningRate));
  cmd->add_option("--momentum", o.momentum, "SGD momentum" + recipe(d.momentum));
  cmd->add_option("--weight-decay", o.weightDecay,
                  "L2 weight decay added to the gradient" + recipe(d.weightDecay));
  cmd->add_option("--seed", o.seed,
                  "Seed of initialisation, shuffling and dropout" + recipe(d.seed));
  cmd->add_option("--batch,-b", c.batch,
                  "Batch size; must be the compiled one, " + std::to_string(d.batch));
  cmd->add_option("--threads,-j", threads, "Threads (default: all cores; sets OMP_NUM_THREADS)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--train-limit", o.trainLimit,
                  "Use only the first N training images (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--test-limit", o.testLimit, "Evaluate on the first N test images (0: all)")
      ->check(CLI::NonNegativeNumber);
  c.data.addOptions(cmd);
  cmd->add_option("--train-data", c.trainData,
                  "Training images: a .npz (x, y) or a folder with one sub-folder of PNG/JPEG "
                  "images per class (default: Fashion-MNIST from --data-dir)");
  cmd->add_option("--test-data", c.testData,
                  "Test images, as --train-data (needed with it)");
  cmd->add_option("--checkpoint", o.checkpoint,
                  "Save the model (.pb, spec + weights) and FILE.state after every epoch, "
                  "atomically");
  cmd->add_option("--resume", o.resume,
                  "Continue from a checkpoint and its .state (same result as an "
                  "uninterrupted run with the same seed and threads)");
  CLI::Option *weights = cmd->add_option(
      "--weights", c.weights,
      "Fine-tune: start from the weights of this model file (.pb, .pbtxt or .onnx) instead of " +
          std::string(rt::hasEmbeddedWeights() ? "the ones embedded in this program"
                                               : "Xavier initialisation"));
  CLI::Option *scratch = cmd->add_flag(
      "--from-scratch", c.fromScratch,
      "Start from Xavier initialisation (seed) even though the program embeds weights");
  weights->excludes(scratch);
  weights->excludes(cmd->get_option("--resume"));
  cmd->add_option("--metrics", o.metrics,
                  "Write per-epoch metrics: CSV, or JSON lines if FILE ends in .jsonl");
  cmd->add_option("--plot", o.plot, "Write the training curves as an SVG chart");
  return cmd;
}

} // namespace

int main(int argc, char **argv) {
  auto desc = rt::parseDescriptor(ninc_descriptor);
  if (!desc)
    return fail(std::string("internal error: ") + desc.message());
  if (Status cpu = rt::checkCpuCanRun(*desc); !cpu)
    return fail("error: " + cpu.message());
  CLI::App app{"Model '" + desc->model + "' compiled by ninc (batch " +
               std::to_string(desc->batch) + ", input " + std::to_string(desc->channels) + "x" +
               std::to_string(desc->height) + "x" + std::to_string(desc->width) + ")"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads,-j", threads, "Threads (default: all cores; sets OMP_NUM_THREADS)")
      ->check(CLI::Range(0, 1024));

  InferOptions io;
  CLI::App *inferCmd = app.add_subcommand(
      "infer", "Classify images (Fashion-MNIST, a .npz or an image folder), print accuracy");
  io.data.addOptions(inferCmd);
  inferCmd->add_option("--test-data", io.testData,
                       "Images to classify: a .npz (x, y) or a folder with one sub-folder of "
                       "PNG/JPEG images per class (default: Fashion-MNIST's --split)");
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
                       "Model file with trained weights: .pb, .pbtxt or .onnx (default: " +
                           std::string(rt::hasEmbeddedWeights()
                                           ? "the weights embedded from the model file)"
                                           : "Xavier init from the spec's seed)"));
  inferCmd->add_option("--save-logits", io.saveLogits, "Write the logits as a NumPy .npy file");
  inferCmd->add_flag("--quiet,-q", io.quiet, "Print only the result line");

  TrainCommand tc;
  CLI::App *trainCmd = addTrainCommand(app, *desc, tc, threads);

  int iters = 10, warmup = 2;
  std::string benchMode = "infer";
  CLI::App *benchCmd =
      app.add_subcommand("bench", "Time one batch of inference or one training step");
  benchCmd->add_option("--mode", benchMode, "What to time")
      ->check(CLI::IsMember({"infer", "train"}))
      ->capture_default_str();
  benchCmd->add_option("--iters", iters, "Timed runs")->capture_default_str()->check(CLI::PositiveNumber);
  benchCmd->add_option("--warmup", warmup, "Untimed runs first")->capture_default_str();
  int64_t benchBatch = 0;
  benchCmd->add_option("--batch", benchBatch,
                       "Batch to time: the one the program was compiled for (the default; "
                       "another needs ninc compile --batch N)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  bool profile = false;
  benchCmd->add_flag("--profile", profile,
                     "Also time every compiled region (conv, pool, ...): ms, share, GFLOP/s "
                     "and % of this machine's FMA peak, measured first");
  std::string profileOut;
  benchCmd->add_option("--profile-out", profileOut,
                       "With --profile: also write every region's ms a call as tab-separated "
                       "lines (region, function, ms, FLOPs, name) to FILE (what ninc compile "
                       "--autotune reads)")
      ->needs(benchCmd->get_option("--profile"));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    app.exit(e);
    return kExitUsage;
  }
  if (threads > 0)
    setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 1);
  // Each command passes one weights (and velocity) buffer to every call,
  // changes it only through ninc_train_step and, in train, syncs it before
  // reading it (rt::train calls TrainBackend::sync).
  if (ninc_device_keep_weights)
    ninc_device_keep_weights();
  if (inferCmd->parsed())
    return infer(*desc, io);
  if (trainCmd->parsed())
    return train(*desc, tc);
  if (benchBatch > 0 && benchBatch != desc->batch)
    return fail("error: this program was compiled for batch " + std::to_string(desc->batch) +
                ", not " + std::to_string(benchBatch) + " (recompile with ninc compile --batch=" +
                std::to_string(benchBatch) + ")");
  return bench(*desc, benchMode, iters, warmup, profile, profileOut);
}
