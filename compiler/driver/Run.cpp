//===- compiler/driver/Run.cpp - `ninc run`: classify Fashion-MNIST ---------===//
//
// Classifies images with a backend (for now the reference interpreter) and
// prints the accuracy. Weights come from --weights, else the model file, else
// Xavier initialisation from the spec's seed (chance-level accuracy).
//
//===----------------------------------------------------------------------===//

#include "compiler/driver/Commands.h"
#include "compiler/driver/ModelWeights.h"
#include "compiler/frontend/Frontend.h"
#include "compiler/reference/Interpreter.h"
#include "runtime/data/FashionMnist.h"
#include "runtime/support/Npy.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>

namespace ninc {

namespace {

Status checkFitsDataset(const Model &model) {
  if (model.channels != 1 || model.numClasses != data::kNumClasses)
    return Error{model.sourcePath + ": error: Fashion-MNIST needs a model with 1 input channel "
                 "and 10 classes, found " + std::to_string(model.channels) + " channels and " +
                 std::to_string(model.numClasses) + " classes"};
  return Status::ok();
}

/// `ninc run --input X.npy`: the interpreter's outputs of raw inputs.
int runTensors(const Model &model, const ClassifyOptions &opts,
               const reference::Params<float> &params) {
  std::vector<int64_t> shape;
  auto x = readNpyFloats(opts.input, shape);
  if (!x) {
    printError(x.message());
    return kExitInvalidInput;
  }
  const std::vector<int64_t> want{model.channels, model.height, model.width};
  if (shape.size() != 4 || shape[0] < 1 ||
      std::vector<int64_t>(shape.begin() + 1, shape.end()) != want) {
    printError(opts.input + ": error: expected float32 inputs [N, " +
               std::to_string(model.channels) + ", " + std::to_string(model.height) + ", " +
               std::to_string(model.width) + "] (NCHW, the model's input)");
    return kExitInvalidInput;
  }
  reference::Interpreter<float> interp(model);
  const std::vector<float> &out = interp.forward(params, x->data(), shape[0]);
  // Logits [N, classes], or a feature extractor's last shape.
  std::vector<int64_t> outShape{shape[0], model.numClasses};
  if (model.numClasses == 0)
    outShape = inferShapes(model, shape[0])->back();
  if (opts.saveLogits.empty() && model.numClasses == 0) {
    printError("error: model '" + model.name + "' is a feature extractor: give --save-logits "
               "FILE.npy for its outputs");
    return kExitUsage;
  }
  if (opts.saveLogits.empty()) {
    std::vector<int32_t> predicted = interp.predictions();
    for (size_t i = 0; i < predicted.size(); ++i)
      std::printf("input %zu: class %d\n", i, predicted[i]);
    return kExitOk;
  }
  if (Status s = writeNpy(opts.saveLogits, outShape, out.data()); !s) {
    printError(s.message());
    return kExitInvalidInput;
  }
  if (!opts.quiet)
    std::printf("wrote outputs %s to %s\n", formatShape(outShape).c_str(),
                opts.saveLogits.c_str());
  return kExitOk;
}

} // namespace

int runClassify(const ClassifyOptions &opts) {
  std::optional<Model> model = loadModelOrReport(opts.model);
  if (!model)
    return kExitInvalidInput;
  if (!opts.input.empty()) {
    auto weights = chooseWeights(*model, opts.weights);
    if (!weights) {
      printError(weights.message());
      return kExitInvalidInput;
    }
    return runTensors(*model, opts, weights->first);
  }
  if (Status s = checkFitsDataset(*model); !s) {
    printError(s.message());
    return kExitInvalidInput;
  }
  auto weights = chooseWeights(*model, opts.weights);
  if (!weights) {
    printError(weights.message());
    return kExitInvalidInput;
  }
  std::string dir = opts.dataDir.empty() ? data::defaultDataDir() : opts.dataDir;
  Expected<data::Dataset> ds = data::loadFashionMnist(
      dir, opts.split == "train" ? data::Split::Train : data::Split::Test);
  if (!ds) {
    printError(ds.message());
    return kExitInvalidInput;
  }
  if (opts.threads > 0)
    omp_set_num_threads(opts.threads);

  const int64_t total = opts.limit > 0 ? std::min(opts.limit, ds->count) : ds->count;
  const int64_t h = model->height, w = model->width;
  std::vector<int64_t> order(total);
  std::iota(order.begin(), order.end(), 0);
  reference::Interpreter<float> interp(*model);
  const bool progress = !opts.quiet && isatty(fileno(stderr));
  if (!opts.quiet)
    std::printf("classifying %lld %s images (%lldx%lld) with backend '%s', %s\n",
                (long long)total, opts.split.c_str(), (long long)h, (long long)w,
                opts.backend.c_str(), weights->second.c_str());
  std::fflush(stdout);

  int64_t correct = 0;
  auto start = std::chrono::steady_clock::now();
  std::vector<float> images;
  std::vector<int32_t> labels;
  std::vector<float> allLogits;
  for (int64_t first = 0; first < total; first += opts.batch) {
    int n = static_cast<int>(std::min<int64_t>(opts.batch, total - first));
    images.resize(static_cast<size_t>(n) * h * w);
    labels.resize(n);
    data::makeBatch(*ds, order.data() + first, n, h, w, images.data(), labels.data());
    const std::vector<float> &logits = interp.forward(weights->first, images.data(), n);
    if (!opts.saveLogits.empty())
      allLogits.insert(allLogits.end(), logits.begin(), logits.end());
    std::vector<int32_t> predicted = interp.predictions();
    for (int i = 0; i < n; ++i)
      correct += predicted[i] == labels[i];
    if (progress)
      std::fprintf(stderr, "\r  %lld/%lld images", (long long)(first + n), (long long)total);
  }
  if (progress)
    std::fprintf(stderr, "\n");
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("accuracy %.4f (%lld/%lld %s images), %.1f images/s\n",
              total ? double(correct) / double(total) : 0.0, (long long)correct,
              (long long)total, opts.split.c_str(), seconds > 0 ? total / seconds : 0.0);
  if (!opts.saveLogits.empty()) {
    if (Status s = writeNpy(opts.saveLogits, {total, model->numClasses}, allLogits.data()); !s) {
      printError(s.message());
      return kExitInvalidInput;
    }
  }
  return kExitOk;
}

} // namespace ninc
