//===- examples/interp_train.cpp - Training with the reference interpreter ===//
//
// Trains a model with ninc's reference interpreter on Fashion-MNIST and saves
// it as a self-contained model file (spec + weights) that `ninc run
// --weights` and `ninc inspect` read. It shows the libraries the compiler is
// built from, and it is slow on purpose-built-for-clarity code: use it on
// models/nin-tiny.pbtxt; the compiled `train` of the next issues is the real
// trainer.
//
//   interp_train MODEL OUT.pb [STEPS] [BATCH]
//
//===----------------------------------------------------------------------===//

#include "compiler/frontend/Frontend.h"
#include "compiler/reference/Interpreter.h"
#include "runtime/data/FashionMnist.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>

using namespace ninc;

int main(int argc, char **argv) {
  if (argc < 3 || argc > 5) {
    std::fprintf(stderr, "usage: %s MODEL OUT.pb [STEPS=300] [BATCH=spec's batch_size]\n", argv[0]);
    return kExitUsage;
  }
  std::optional<Model> model = loadModelOrReport(argv[1]);
  if (!model)
    return kExitInvalidInput;
  const int64_t steps = argc > 3 ? std::atoll(argv[3]) : 300;
  const int64_t batch = argc > 4 ? std::atoll(argv[4]) : model->training.batchSize;
  if (steps < 1 || batch < 1) {
    std::fprintf(stderr, "error: STEPS and BATCH must be positive integers\n");
    return kExitUsage;
  }
  Expected<data::Dataset> train = data::loadFashionMnist(data::defaultDataDir(), data::Split::Train);
  if (!train) {
    std::fprintf(stderr, "%s\n", train.message().c_str());
    return kExitInvalidInput;
  }

  const TrainingConfig &cfg = model->training;
  reference::Interpreter<float> interp(*model);
  reference::Params<float> params = reference::initParams<float>(*model, cfg.seed);
  reference::Params<float> velocity;
  const auto sgd = reference::SgdConfig::from(cfg);
  const int64_t h = model->height, w = model->width;
  std::vector<float> images(static_cast<size_t>(batch * h * w));
  std::vector<int32_t> labels(batch);

  std::printf("training '%s' with the reference interpreter: %lld steps of %lld images, lr %g\n",
              model->name.c_str(), (long long)steps, (long long)batch, sgd.learningRate);
  std::vector<int64_t> order;
  int64_t epoch = -1, next = train->count;
  double recent = 0;
  for (int64_t step = 0; step < steps; ++step) {
    if (next + batch > train->count) { // new epoch: reshuffle
      order = data::shuffledOrder(train->count, cfg.seed, ++epoch);
      next = 0;
    }
    data::makeBatch(*train, order.data() + next, static_cast<int>(batch), h, w, images.data(),
                    labels.data());
    next += batch;
    double loss = reference::trainStep(interp, params, velocity, images.data(), labels.data(),
                                       batch, sgd, cfg.seed, step);
    if (!std::isfinite(loss)) {
      std::fprintf(stderr, "error: loss is %g at step %lld: training diverged\n", loss,
                   (long long)step);
      return kExitInvalidInput;
    }
    recent += loss;
    if ((step + 1) % 50 == 0 || step + 1 == steps) {
      int64_t n = (step + 1) % 50 ? (step + 1) % 50 : 50;
      std::printf("step %lld, loss %.4f\n", (long long)(step + 1), recent / n);
      std::fflush(stdout);
      recent = 0;
    }
  }
  model->weights = reference::paramsToTensors(*model, params);
  if (Status s = saveModel(*model, argv[2]); !s) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return kExitInvalidInput;
  }
  std::printf("saved %s\n", argv[2]);
  return kExitOk;
}
