//===- compiler/reference/Interpreter.h - The reference interpreter -*- C++ -*-===//
//
// Plain C++ execution of a Model: forward, softmax cross-entropy, backward and
// SGD. It is the oracle every test of compiled code compares against, so it is
// written to be obviously correct rather than fast: direct loops over NCHW
// row-major tensors, sums accumulated in double, and OpenMP only over loops
// whose iterations write disjoint outputs, so results do not depend on the
// number of threads.
//
// Conventions fixed here (and by docs/model-spec.md) that compiled code must
// reproduce:
//  - Max pooling pads with -infinity; its gradient goes to the FIRST maximum of
//    each window in row-major scan order (ties are not split).
//  - Average pooling divides by the full window kh*kw, padded zeros included.
//  - ReLU's gradient at exactly 0 is 0 (for fused ReLU: where the output is 0).
//  - Dropout element e (flat index over the whole [N, ...] tensor) of layer l
//    (index into Model::layers) at step s is kept iff
//    randomUniform01(seed, kStreamDropout + l, s * 2^40 + e) >= rate, and kept
//    values are multiplied by T(1) / (T(1) - T(rate)).
//  - SGD follows PyTorch: g' = g + wd * w; v = momentum * v + g'; w -= lr * v.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_REFERENCE_INTERPRETER_H
#define NINC_COMPILER_REFERENCE_INTERPRETER_H

#include "compiler/model/Model.h"
#include "compiler/model/Shapes.h"
#include "runtime/support/Labels.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace ninc::reference {

/// Parameter tensors, parallel to ninc::parameterList(model): for each conv
/// layer in order, its weight [O, I, KH, KW] then its bias [O] if it has one.
template <typename T> using Params = std::vector<std::vector<T>>;

/// Xavier-uniform initialisation as MXNet's init.Xavier() (uniform, factor
/// "avg", magnitude model.training.xavierMagnitude): s = sqrt(magnitude /
/// ((fanIn + fanOut) / 2)) and element j of parameter p is
/// -s + 2 * s * randomUniform01(seed, kStreamInit + p, j), computed in double
/// and rounded to T. Biases are zero.
template <typename T> Params<T> initParams(const Model &model, uint64_t seed);

/// model.weights (non-empty, validated, in parameterList order) converted to T.
template <typename T> Params<T> paramsFromModel(const Model &model);

/// Named, shaped tensors for `params`, ready to store as Model::weights.
std::vector<TensorData> paramsToTensors(const Model &model, const Params<float> &params);

/// How one forward pass runs.
struct RunOptions {
  bool training = false;    ///< Dropout is active only in training.
  uint64_t dropoutSeed = 0; ///< Seed of the dropout masks.
  uint64_t step = 0;        ///< Training step; selects a fresh mask per step.
  /// The batch's first image in the global batch of data-parallel training:
  /// masks are drawn by global image index (NinToLinalgTrain.h).
  uint64_t firstImage = 0;
};

/// Runs one model on batches of images with element type T (float or double).
/// Keeps every layer's output of the last forward pass for backward() and for
/// inspection, so memory grows with batch size times the sum of all layer
/// sizes. Misuse (wrong sizes, labels out of range, backward before forward)
/// aborts with a message: these are programming errors, not bad input.
template <typename T> class Interpreter {
public:
  /// `model` must pass inferShapes(); it is copied.
  explicit Interpreter(const Model &model);

  /// Runs `batch` images [batch, C, H, W] through every layer and returns the
  /// logits [batch, numClasses].
  const std::vector<T> &forward(const Params<T> &params, const T *images, int64_t batch,
                                const RunOptions &opts = {});

  /// Mean over the batch of the softmax cross-entropy of the last forward's
  /// logits, computed in double with log-sum-exp. labels: [batch] class ids,
  /// or kIgnoreLabel (runtime/support/Labels.h) for rows left out of the mean.
  double loss(const int32_t *labels) const;

  /// Index of the largest logit per image of the last forward (first on ties).
  std::vector<int32_t> predictions() const;

  /// Gradients of loss(labels) w.r.t. every parameter (into `grads`, resized
  /// to the layout of `params`) and, if `inputGrad` is not null, w.r.t. the
  /// images. Uses the activations of the last forward, which must have run
  /// with the same `params`.
  void backward(const Params<T> &params, const int32_t *labels, Params<T> &grads,
                std::vector<T> *inputGrad = nullptr);

  /// Output of model.layers[layer] in the last forward pass.
  const std::vector<T> &activation(int layer) const;

  /// Shape of activation(layer), batch included.
  const Shape &activationShape(int layer) const;

  /// Batch size of the last forward pass (0 before the first).
  int64_t batch() const { return batch_; }

  /// The model this interpreter runs (its own copy).
  const Model &model() const { return model_; }

private:
  const std::vector<T> &layerInput(int layer) const;
  void forwardLayer(int layer, const Params<T> &params);
  void backwardLayer(int layer, const Params<T> &params, std::vector<T> &gradOut,
                     std::vector<T> *gradIn, Params<T> &grads) const;
  std::vector<T> logitsGradient(const int32_t *labels) const;

  Model model_;
  std::vector<int> paramIndex_; ///< Per layer: index of its weight, or -1.
  std::vector<ParamInfo> paramInfo_;
  std::vector<Shape> shapes_;   ///< Output shape per layer, last forward.
  std::vector<T> input_;
  std::vector<std::vector<T>> acts_;
  RunOptions opts_;
  int64_t batch_ = 0;
};

/// Plain SGD hyper-parameters.
struct SgdConfig {
  float learningRate = 0.1f;
  float momentum = 0.0f;
  float weightDecay = 0.0f;

  /// The model's training recipe.
  static SgdConfig from(const TrainingConfig &training) {
    return {training.learningRate, training.momentum, training.weightDecay};
  }
};

/// One SGD update of every parameter (biases included), in T arithmetic:
/// g' = g + weightDecay * w; with momentum v = momentum * v + g' and
/// w -= lr * v (velocity is zero-filled on first use), else w -= lr * g' and
/// velocity is not touched.
template <typename T>
void sgdUpdate(Params<T> &params, const Params<T> &grads, Params<T> &velocity,
               const SgdConfig &cfg);

/// forward (training mode) + loss + backward + sgdUpdate on one batch; returns
/// the loss before the update. `syncGradients`, when set, sees the gradients
/// between the backward and the update and may change them (the compiled
/// step's ninc_grad_sync); `firstImage` as RunOptions's.
template <typename T>
double trainStep(Interpreter<T> &interp, Params<T> &params, Params<T> &velocity,
                 const T *images, const int32_t *labels, int64_t batch,
                 const SgdConfig &cfg, uint64_t dropoutSeed, uint64_t step,
                 uint64_t firstImage = 0,
                 const std::function<void(Params<T> &)> &syncGradients = nullptr);

} // namespace ninc::reference

#endif // NINC_COMPILER_REFERENCE_INTERPRETER_H
