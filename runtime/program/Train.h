//===- runtime/program/Train.h - The training loop of a compiled model -*- C++ -*-===//
//
// `out/nin train` runs d2l's train_ch5 protocol on Fashion-MNIST, whatever
// computes a step (the compiled ninc_train_step, or the reference interpreter
// in tests):
//
//  - Epoch e (1-based) visits the training images in the order
//    data::shuffledOrder(count, seed, e - 1), every one of them: the last
//    batch may be short (60000 images at batch 128 are 468 full batches and
//    one of 96). It is padded to the compiled batch with zero images labelled
//    kIgnoreLabel, which the step leaves out of its loss and gradients (the
//    mean over the real images, as d2l's loader hands PyTorch a batch of 96),
//    and its loss counts by its size in the epoch's. The step counter (which
//    selects the dropout masks) counts steps across epochs, from 0.
//  - The seed drives everything random: Xavier initialisation, the shuffle
//    and the dropout masks. With the same seed and thread count a run is
//    bit-reproducible, and so is a run resumed from a checkpoint.
//  - After each epoch the test set is classified in inference mode (the last
//    batch padded with zero images that are not counted) and the chapter's
//    line is printed: `epoch 1, loss 2.2627, train acc 0.154, test acc 0.362,
//    time 24.1 sec` (loss and train acc: means over the epoch's training
//    images, dropout active; time: the epoch's wall time, evaluation
//    included). At the end: `123.4 examples/sec on cpu` (training images per
//    second of training, evaluation excluded), as d2l.
//  - Progress goes to `progress`: on a terminal a bar redrawn in place at most
//    5 times a second (batches, running loss, images/s, ETA); otherwise a
//    plain line every ~10% of an epoch.
//  - Optional outputs, rewritten atomically after every epoch with the whole
//    history (resumed epochs included): a checkpoint (Checkpoint.h), metrics
//    (CSV `epoch,loss,train_acc,test_acc,seconds,images_per_sec`, or JSON
//    lines when the name ends in .jsonl) and an SVG plot of the curves.
//  - A non-finite loss (or non-finite weights after an epoch) stops training
//    with an error naming the epoch, the batch, the learning rate and the last
//    good checkpoint, which is left untouched.
//  - Data parallel (TrainOptions::collective of N ranks, each running the
//    compiled batch B): a step trains a global batch of N * B images, the
//    next slice of the epoch's one shuffled order, rank r taking images
//    r * B .. r * B + B - 1 of it (firstImage r * B for the dropout masks).
//    The step's gradients (ninc_grad_sync) are weighted by each rank's share
//    of the real images and summed across the ranks, so every rank applies
//    the update one process at batch N * B would, and the weights stay
//    identical (their CRC-32 is compared after every epoch). Loss, accuracy
//    and the stop signal are summed per step; the test set is split between
//    the ranks. Rank 0 alone prints, and writes the checkpoint, metrics and
//    plot. A partial epoch resumes at the image it stopped at, with any N.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_PROGRAM_TRAIN_H
#define NINC_RUNTIME_PROGRAM_TRAIN_H

#include "runtime/data/FashionMnist.h"
#include "runtime/distributed/Collective.h"
#include "runtime/program/Checkpoint.h"
#include "runtime/program/Descriptor.h"
#include "runtime/support/Error.h"

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ninc::rt {

/// How a step and an inference are computed, with the contracts of the
/// generated ninc_train_step and ninc_infer (arenas bound in by the caller).
struct TrainBackend {
  /// One SGD step on a batch (input [batch, C, H, W], labels [batch]):
  /// updates `weights` and `velocity` (blobs in the descriptor's layout) in
  /// place; hyper = {learning rate, momentum, weight decay}; dropout masks
  /// from (seed, step) and the images' indices in the global batch, the
  /// first being `firstImage` (data parallel; 0 alone). Writes the loss
  /// before the update to *loss and the logits [batch, classes]. With more
  /// than one rank it must call ninc_grad_sync (GradSync.h) on the gradients
  /// before the update, as the compiled CPU step does.
  std::function<void(const float *input, const int32_t *labels, float *weights,
                     float *velocity, const float *hyper, uint64_t seed, uint64_t step,
                     uint64_t firstImage, float *loss, float *logits)>
      step;
  /// Logits [batch, classes] of a batch in inference mode.
  std::function<void(const float *input, const float *weights, float *logits)> infer;
  /// Makes the weights and velocity last passed to `step` current in those
  /// host buffers; called before the loop reads them (the finiteness check
  /// after an epoch, checkpoints, the result). Null when they always are
  /// (CPU programs); a CUDA program keeps them on the GPU between steps.
  std::function<void()> sync;
};

/// What `train` does; unset values come from the checkpoint being resumed,
/// else from the descriptor (the spec's training recipe).
struct TrainOptions {
  std::optional<int64_t> epochs;    ///< Total epochs, resumed ones included.
  std::optional<float> learningRate, momentum, weightDecay;
  std::optional<uint64_t> seed;
  int64_t trainLimit = 0;           ///< Only the first N training images (0: all).
  int64_t testLimit = 0;            ///< Only the first N test images (0: all).
  std::string checkpoint;           ///< Written after every epoch (empty: none).
  std::string resume;               ///< Checkpoint to continue from (empty: start).
  /// Weights to start from instead of initialisation (fine-tuning; a blob
  /// laid out as the descriptor says); empty: Xavier init from the seed.
  /// Not with `resume`. `initialOrigin` names them in the header.
  std::vector<float> initialWeights;
  std::string initialOrigin;
  std::string metrics;              ///< .csv or .jsonl (empty: none).
  std::string plot;                 ///< .svg (empty: none).
  std::string specBytes;            ///< ninc_spec; needed to write checkpoints.
  std::string device = "cpu";       ///< Named in the examples/sec line.
  std::FILE *out = stdout;          ///< The report: header and epoch lines.
  std::FILE *progress = stderr;     ///< Progress and warnings; null: silent.
  /// Data-parallel training (docs/distributed.md): this process is one of
  /// collective->size() ranks; null: alone. See the file comment.
  Collective *collective = nullptr;
};

/// The outcome of a run that did not fail.
struct TrainResult {
  std::vector<float> weights;       ///< The trained blob.
  TrainState state;                 ///< Velocity, steps and the whole history.
  double examplesPerSecond = 0;     ///< Of this run's training.
  /// SIGINT or SIGTERM stopped the run after a step (0: it ran to the end);
  /// the checkpoint, if any, holds the epoch so far (TrainState::partial).
  int stoppedBy = 0;
  /// Data parallel: this run's steps and the seconds spent in their
  /// gradient allreduces (scaling included).
  int64_t steps = 0;
  double allreduceSeconds = 0;
};

/// Trains the model `d` describes on `trainSet`, evaluating on `testSet`
/// (see the file comment). Errors name the file or say what diverged.
Expected<TrainResult> train(const TrainBackend &backend, const ModelDescriptor &d,
                            const data::Dataset &trainSet, const data::Dataset &testSet,
                            const TrainOptions &options);

/// The chapter's epoch line, without the newline.
std::string formatEpochLine(const EpochMetrics &m);

/// The metrics file: a CSV with a header, or JSON lines (`jsonLines`).
std::string formatMetrics(const std::vector<EpochMetrics> &history, bool jsonLines);

/// An SVG line chart of loss, train acc and test acc per epoch, with axes,
/// a grid and a legend, like d2l's training plot.
std::string plotSvg(const std::vector<EpochMetrics> &history, const std::string &title);

} // namespace ninc::rt

#endif // NINC_RUNTIME_PROGRAM_TRAIN_H
