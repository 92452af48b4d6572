//===- compiler/driver/Check.cpp - `ninc check`: compiled vs interpreter ---===//
//
// Compiles every prefix of the model (up to and including each spec layer)
// for the CPU as a shared object, runs it on the same real images and
// weights as the reference interpreter, and prints the largest difference
// per layer, naming the first layer beyond tolerance
// (max|diff| <= rtol * max|ref| + atol). A debugging tool: the first bad
// layer is where to look.
//
//===----------------------------------------------------------------------===//

#include "compiler/driver/Commands.h"
#include "compiler/driver/ModelWeights.h"
#include "compiler/frontend/Frontend.h"
#include "compiler/model/Shapes.h"
#include "compiler/pipeline/Compile.h"
#include "runtime/data/FashionMnist.h"
#include "runtime/program/Arena.h"
#include "runtime/program/Descriptor.h"
#include "runtime/program/Weights.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

namespace ninc {

namespace {

using InferFn = void (*)(const float *, const float *, float *, uint8_t *, int32_t);

/// The model cut after spec layer `k` (its output is that layer's).
Model prefixModel(const Model &model, size_t k) {
  Model prefix = model;
  prefix.name = model.name + "_upto" + std::to_string(k);
  prefix.specLayers.resize(k + 1);
  prefix.layers.resize(model.specLayers[k].endLayer);
  prefix.weights.clear();
  return prefix;
}

/// A loaded shared object of a compiled prefix.
struct Compiled {
  void *handle = nullptr;
  InferFn infer = nullptr;
  rt::ModelDescriptor desc;
  ~Compiled() {
    if (handle)
      dlclose(handle);
  }
};

Status loadCompiled(const std::string &path, Compiled &c) {
  c.handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!c.handle)
    return Error{path + ": error: cannot load: " + dlerror()};
  c.infer = reinterpret_cast<InferFn>(dlsym(c.handle, "ninc_infer"));
  auto *text = static_cast<const char *>(dlsym(c.handle, "ninc_descriptor"));
  if (!c.infer || !text)
    return Error{path + ": error: not a model compiled by ninc"};
  Expected<rt::ModelDescriptor> d = rt::parseDescriptor(text);
  if (!d)
    return d.error();
  c.desc = *d;
  return Status::ok();
}

struct Diff {
  double maxDiff = 0, maxRef = 0;
};

Diff compare(const float *got, const float *ref, size_t n) {
  Diff d;
  for (size_t i = 0; i < n; ++i) {
    double diff = std::isfinite(got[i]) ? std::fabs(double(got[i]) - double(ref[i])) : INFINITY;
    d.maxDiff = std::max(d.maxDiff, diff);
    d.maxRef = std::max(d.maxRef, std::fabs(double(ref[i])));
  }
  return d;
}

} // namespace

int runCheck(const CheckOptions &opts) {
  std::optional<Model> model = loadModelOrReport(opts.model);
  if (!model)
    return kExitInvalidInput;
  Expected<Target> target = makeTarget(TargetRequest{}); // this host's CPU
  if (!target) {
    printError(target.message());
    return kExitInvalidInput;
  }
  if (model->channels != 1) {
    printError(opts.model + ": error: check feeds Fashion-MNIST images: expected 1 input "
                            "channel, found " + std::to_string(model->channels));
    return kExitInvalidInput;
  }
  auto weights = chooseWeights(*model, opts.weights);
  if (!weights) {
    printError(weights.message());
    return kExitInvalidInput;
  }
  Expected<data::Dataset> ds = data::loadFashionMnist(
      opts.dataDir.empty() ? data::defaultDataDir() : opts.dataDir, data::Split::Test);
  if (!ds) {
    printError(ds.message());
    return kExitInvalidInput;
  }
  const int n = static_cast<int>(opts.images);
  std::vector<float> images(size_t(n) * model->height * model->width);
  std::vector<int32_t> labels(n);
  std::vector<int64_t> first(n);
  std::iota(first.begin(), first.end(), 0);
  data::makeBatch(*ds, first.data(), n, int(model->height), int(model->width), images.data(),
                  labels.data());

  reference::Interpreter<float> interp(*model);
  interp.forward(weights->first, images.data(), n);

  std::error_code ec;
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("ninc-check-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir, ec);
  std::printf("checking '%s' on %d test images, %s; tolerance %.0e * max|ref| + %.0e\n",
              model->name.c_str(), n, weights->second.c_str(), opts.rtol, opts.atol);
  std::printf("%3s  %-12s %-16s %-22s %12s %12s  %s\n", "#", "layer", "op", "shape",
              "max|diff|", "max|ref|", "");
  int code = kExitOk;
  for (size_t k = 0; k < model->specLayers.size() && code == kExitOk; ++k) {
    const SpecLayer &spec = model->specLayers[k];
    Model prefix = prefixModel(*model, k);
    CompileOptions co;
    co.model = opts.model;
    co.emit = EmitStage::Lib;
    co.batch = n;
    co.threads = opts.threads;
    co.output = (dir / (prefix.name + ".so")).string();
    if (compileModel(prefix, co, *target) != 0) {
      std::printf("%3zu  %-12s %-16s compilation failed (see above)\n", k, spec.name.c_str(),
                  spec.op.c_str());
      code = kExitInvalidInput;
      break;
    }
    Compiled c;
    if (Status s = loadCompiled(co.output, c); !s) {
      printError(s.message());
      code = kExitInvalidInput;
      break;
    }
    std::vector<float> blob(c.desc.blobSize, 0.0f);
    for (size_t p = 0; p < c.desc.params.size(); ++p)
      rt::packParam(c.desc.params[p], weights->first[p].data(), blob.data());
    int last = spec.endLayer - 1;
    const std::vector<float> &ref = interp.activation(last);
    std::vector<float> got(ref.size(), NAN);
    rt::Arena arena(c.desc.arenaBytes);
    c.infer(images.data(), blob.data(), got.data(), arena.data(), /*repack=*/1);
    Diff d = compare(got.data(), ref.data(), ref.size());
    bool ok = d.maxDiff <= opts.rtol * d.maxRef + opts.atol;
    std::printf("%3zu  %-12s %-16s %-22s %12.3g %12.3g  %s\n", k, spec.name.c_str(),
                spec.op.c_str(), formatShapeTuple(interp.activationShape(last)).c_str(),
                d.maxDiff, d.maxRef, ok ? "ok" : "EXCEEDS TOLERANCE");
    if (!ok) {
      std::printf("first layer beyond tolerance: layers[%zu] '%s' (%s)\n", k, spec.name.c_str(),
                  spec.op.c_str());
      code = kExitInvalidInput;
    }
  }
  std::filesystem::remove_all(dir, ec);
  if (code == kExitOk)
    std::printf("all %zu layers within tolerance\n", model->specLayers.size());
  return code;
}

} // namespace ninc
