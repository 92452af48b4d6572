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
#include "runtime/distributed/Collective.h"
#include "runtime/program/Arena.h"
#include "runtime/program/Bench.h"
#include "runtime/program/DataOptions.h"
#include "runtime/program/Descriptor.h"
#include "runtime/program/Generated.h"
#include "runtime/program/Train.h"
#include "runtime/program/Weights.h"
#include "runtime/support/Error.h"
#include "runtime/support/Npy.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <map>
#include <sstream>
#include <thread>
#include <unistd.h>


namespace {

using namespace ninc;
using Clock = std::chrono::steady_clock;

int fail(const std::string &message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  return kExitInvalidInput;
}

/// The memory a command needs (its arena, the weights and, training, their
/// velocity) against what the machine has: an error message, or "".
std::string tooLarge(const rt::ModelDescriptor &d, int64_t arenaBytes, bool training) {
  const int64_t bytes = arenaBytes + d.blobSize * int64_t(sizeof(float)) * (training ? 2 : 1);
  return rt::modelMemoryProblem(d, bytes, training ? " (training)" : "");
}

Expected<std::vector<float>> chooseWeights(const rt::ModelDescriptor &d, const std::string &path,
                                           std::string &origin) {
  if (path.empty())
    return rt::defaultWeights(d, origin);
  origin = "weights from " + path;
  return rt::loadWeights(path, d);
}

/// The .npy shape of `n` outputs: [n, classes], or a feature extractor's
/// [n, C, H, W].
std::vector<int64_t> outputShape(const rt::ModelDescriptor &d, int64_t n) {
  std::vector<int64_t> shape{n};
  if (d.output.empty())
    shape.push_back(d.classes);
  else
    shape.insert(shape.end(), d.output.begin(), d.output.end());
  return shape;
}

struct InferOptions {
  rt::DataOptions data;
  std::string split = "test", weights, saveLogits, imagesFile, labelsFile, testData, input;
  int64_t limit = 0;
  bool quiet = false;
};

/// `infer --input X.npy`: the outputs of raw float32 inputs [N, C, H, W]
/// (no labels, no resizing), batch by batch, to --save-logits or, without
/// it, each row's largest class.
int inferTensors(const rt::ModelDescriptor &d, const InferOptions &o,
                 const std::vector<float> &weights, const std::string &origin) {
  std::vector<int64_t> shape;
  auto x = readNpyFloats(o.input, shape);
  if (!x)
    return fail(x.message());
  const std::vector<int64_t> want{d.channels, d.height, d.width};
  if (shape.size() != 4 || shape[0] < 1 || std::vector<int64_t>(shape.begin() + 1, shape.end()) != want)
    return fail(o.input + ": error: expected float32 inputs [N, " + std::to_string(d.channels) +
                ", " + std::to_string(d.height) + ", " + std::to_string(d.width) +
                "] (NCHW, the model's input)");
  const int64_t total = shape[0], image = d.channels * d.height * d.width;
  if (!d.output.empty() && o.saveLogits.empty())
    return fail("error: '" + d.model + "' is a feature extractor: give --save-logits FILE.npy "
                "for its outputs");
  if (!o.quiet)
    std::printf("running %lld inputs of %s through compiled '%s' (batch %lld), %s\n",
                (long long)total, o.input.c_str(), d.model.c_str(), (long long)d.batch,
                origin.c_str());
  std::vector<float> images(d.batch * image), logits(d.batch * d.classes), all;
  if (std::string p = tooLarge(d, d.arenaBytes, false); !p.empty())
    return fail(p);
  rt::Arena arena(d.arenaBytes);
  if (!arena.data())
    return fail("error: cannot allocate the " + std::to_string(d.arenaBytes) +
                "-byte arena for intermediates");
  for (int64_t first = 0; first < total; first += d.batch) {
    const int64_t n = std::min<int64_t>(d.batch, total - first);
    std::fill(images.begin(), images.end(), 0.0f);
    std::copy_n(x->data() + first * image, n * image, images.data());
    ninc_infer(images.data(), weights.data(), logits.data(), arena.data(), first == 0);
    all.insert(all.end(), logits.begin(), logits.begin() + n * d.classes);
  }
  if (!o.saveLogits.empty()) {
    if (Status s = writeNpy(o.saveLogits, outputShape(d, total), all.data()); !s)
      return fail(s.message());
    if (!o.quiet)
      std::printf("wrote outputs of %lld inputs to %s\n", (long long)total,
                  o.saveLogits.c_str());
    return kExitOk;
  }
  for (int64_t i = 0; i < total; ++i) {
    const float *row = all.data() + i * d.classes;
    std::printf("input %lld: class %lld\n", (long long)i,
                (long long)(std::max_element(row, row + d.classes) - row));
  }
  return kExitOk;
}

int infer(const rt::ModelDescriptor &d, const InferOptions &o) {
  std::string origin;
  auto weights = chooseWeights(d, o.weights, origin);
  if (!weights)
    return fail(weights.message());
  if (!o.input.empty())
    return inferTensors(d, o, *weights, origin);
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
  const bool features = !d.output.empty(); // a feature extractor: no accuracy
  if (features && o.saveLogits.empty())
    return fail("error: '" + d.model + "' is a feature extractor: give --save-logits FILE.npy "
                "for its outputs");
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
  if (std::string p = tooLarge(d, d.arenaBytes, false); !p.empty())
    return fail(p);
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
    for (int i = 0; i < n && !features; ++i) {
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
  if (features)
    std::printf("features of %lld %s images, %.1f images/s\n", (long long)total, what.c_str(),
                computeSeconds > 0 ? total / computeSeconds : 0.0);
  else
    std::printf("accuracy %.4f (%lld/%lld %s images), %.1f images/s\n",
                total ? double(correct) / total : 0.0, (long long)correct, (long long)total,
                what.c_str(), computeSeconds > 0 ? total / computeSeconds : 0.0);
  if (!o.saveLogits.empty())
    if (Status s = writeNpy(o.saveLogits, outputShape(d, total), all.data()); !s)
      return fail(s.message());
  return kExitOk;
}

struct TrainCommand {
  rt::TrainOptions options;
  rt::DataOptions data;
  std::string weights, trainData, testData;
  int64_t batch = 0;
  bool fromScratch = false;
};

int trainAlone(const rt::ModelDescriptor &d, TrainCommand &c);

/// `train`, alone or as one rank of a data-parallel job (mpirun, srun):
/// rank 0 reports; a rank that fails ends the job (MPI_Abort), so no rank
/// waits for it in a collective.
int train(const rt::ModelDescriptor &d, TrainCommand &c) {
  auto comm = rt::collectiveFromEnvironment();
  if (!comm)
    return fail(comm.message());
  rt::Collective &group = **comm;
  if (group.size() == 1)
    return trainAlone(d, c);
  std::FILE *devNull = nullptr;
  if (group.rank() != 0) {
    devNull = std::fopen("/dev/null", "w");
    c.options.out = devNull ? devNull : stdout;
    c.options.progress = nullptr;
  }
  c.options.collective = &group;
  int rc = ninc_device_name
               ? fail("error: data-parallel training of CUDA programs (NCCL) is not built yet; "
                      "run one process, or compile for --target=cpu")
               : trainAlone(d, c);
  if (rc != kExitOk && rc < 128) { // an error; 128 + N: stopped by signal N, cleanly
    std::fprintf(stderr, "rank %d of %d stopped with exit status %d: ending the job\n",
                 group.rank(), group.size(), rc);
    group.abort(rc);
  }
  if (devNull)
    std::fclose(devNull);
  return rc;
}

int trainAlone(const rt::ModelDescriptor &d, TrainCommand &c) {
  if (!rt::programCanTrain(d))
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
    std::fprintf(c.options.out, "classes: %s\n", rt::classList(*trainSet).c_str());
  const int64_t arenaBytes = std::max(d.arenaBytes, d.trainArenaBytes);
  if (std::string p = tooLarge(d, arenaBytes, true); !p.empty())
    return fail(p);
  rt::Arena arena(arenaBytes);
  if (!arena.data())
    return fail("error: cannot allocate the " + std::to_string(arenaBytes) +
                "-byte arena for training");
  rt::TrainBackend backend;
  backend.step = [&](const float *input, const int32_t *labels, float *weights, float *velocity,
                     const float *hyper, uint64_t seed, uint64_t step, uint64_t firstImage,
                     float *loss, float *logits) {
    ninc_train_step(input, labels, weights, velocity, hyper, seed, step, firstImage, loss,
                    logits, arena.data());
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
  if (result->stoppedBy) // as a shell reports a program a signal ended
    return 128 + result->stoppedBy;
  if (c.options.checkpoint.empty() && result->examplesPerSecond > 0 && c.options.progress)
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
               "batches, SGD, the chapter's per-epoch line). Under mpirun -np N: data "
               "parallel, N ranks of this batch each (docs/distributed.md)");
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
  // Under a file-size limit (ulimit -f) a write past it fails with EFBIG,
  // which the writers report, instead of killing the program with SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
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
  CLI::Option *inputOpt = inferCmd->add_option(
      "--input", io.input,
      "Raw inputs instead of a dataset: a float32 .npy [N, C, H, W] (NCHW, the model's size; "
      "no resizing or labels); outputs go to --save-logits");
  inputOpt->excludes(imagesOpt);
  inputOpt->excludes(inferCmd->get_option("--test-data"));
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
  bool peak = false;
  benchCmd->add_flag("--peak", peak,
                     "Also print the whole call's GFLOP/s at the median as a share of this "
                     "machine's FMA peak (at the ISA the code was compiled for), measured "
                     "before and after the timed runs; the higher of the two is used");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    app.exit(e);
    return kExitUsage;
  }
  // Ranks of a data-parallel job on one host share its cores.
  if (threads == 0 && trainCmd->parsed() && rt::launchedLocalRanks() > 1 &&
      !std::getenv("OMP_NUM_THREADS"))
    threads = std::max(1, int(std::thread::hardware_concurrency()) / rt::launchedLocalRanks());
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
  return rt::runBench(*desc, benchMode, iters, warmup, profile, profileOut, peak);
}
