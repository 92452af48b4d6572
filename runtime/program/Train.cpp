//===- runtime/program/Train.cpp - The training loop of a compiled model --===//

#include "runtime/program/Train.h"
#include "runtime/distributed/GradSync.h"
#include "runtime/program/Progress.h"
#include "runtime/program/Weights.h"
#include "runtime/support/Fault.h"
#include "runtime/support/Format.h"
#include "runtime/support/Labels.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdarg>
#include <sstream>

namespace ninc::rt {

namespace {

using progress::Clock;
using progress::Progress;
using progress::secondsSince;

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Index of the largest of n values (the first on ties).
int64_t argmax(const float *row, int64_t n) { return std::max_element(row, row + n) - row; }


/// SIGINT / SIGTERM while training: the step in flight finishes, then the
/// run stops (the Trainer looks after every step) and writes its checkpoint.
/// SA_RESETHAND: a second signal has its usual effect.
volatile std::sig_atomic_t gStopSignal = 0;
extern "C" void requestStop(int signal) { gStopSignal = signal; }

class StopOnSignals {
public:
  StopOnSignals() {
    gStopSignal = 0;
    struct sigaction sa {};
    sa.sa_handler = requestStop;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &oldInt_);
    ::sigaction(SIGTERM, &sa, &oldTerm_);
  }
  ~StopOnSignals() {
    ::sigaction(SIGINT, &oldInt_, nullptr);
    ::sigaction(SIGTERM, &oldTerm_, nullptr);
  }

private:
  struct sigaction oldInt_ {}, oldTerm_ {};
};

/// Where a run starts: fresh weights, or a checkpoint's weights and state;
/// the state also holds this run's hyper-parameters and seed.
struct Start {
  std::vector<float> weights;
  TrainState state;
  std::string lastGood;  ///< The newest checkpoint known to be good.
};

void warn(const TrainOptions &o, const std::string &message) {
  if (o.progress)
    std::fprintf(o.progress, "warning: %s\n", message.c_str());
}

/// `value` if set, else `stored` (the resumed run's value, or the default
/// when starting); warns when a resumed run changes it.
template <typename T>
T choose(const std::optional<T> &value, T stored, const char *name, const TrainOptions &o,
         bool resuming) {
  const T chosen = value.value_or(stored);
  if (resuming && chosen != stored) {
    std::ostringstream os;
    os << "resuming " << o.resume << " with " << name << " " << chosen
       << ", it was trained with " << stored
       << ": the result will differ from an uninterrupted run";
    warn(o, os.str());
  }
  return chosen;
}

Expected<Start> startingPoint(const ModelDescriptor &d, const TrainOptions &o,
                              int64_t trainImages) {
  Start s;
  const bool resuming = !o.resume.empty();
  if (resuming) {
    Expected<Checkpoint> ck = loadCheckpoint(o.resume, d);
    if (!ck)
      return ck.error();
    if (!ck->note.empty())
      warn(o, ck->note);
    s.weights = std::move(ck->weights);
    s.state = std::move(ck->state);
    s.lastGood = o.resume;
  } else {
    s.state.seed = o.seed.value_or(d.seed);
    ModelDescriptor init = d;
    init.seed = s.state.seed;
    if (!o.initialWeights.empty()) {
      if (o.initialWeights.size() != size_t(d.blobSize))
        return Error{"error: the starting weights (" + o.initialOrigin + ") have " +
                     std::to_string(o.initialWeights.size()) + " values, the model " +
                     std::to_string(d.blobSize)};
      s.weights = o.initialWeights;
    } else {
      s.weights = initialWeights(init);
    }
    s.state.velocity.assign(d.blobSize, 0.0f);
    s.state.learningRate = d.learningRate;
    s.state.momentum = d.momentum;
    s.state.weightDecay = d.weightDecay;
  }
  TrainState &st = s.state;
  st.seed = choose(o.seed, st.seed, "seed", o, resuming);
  st.learningRate = choose(o.learningRate, st.learningRate, "lr", o, resuming);
  st.momentum = choose(o.momentum, st.momentum, "momentum", o, resuming);
  st.weightDecay = choose(o.weightDecay, st.weightDecay, "weight decay", o, resuming);
  // The global batch: a run of N ranks at batch B trains as one at N * B.
  const int64_t globalBatch = d.batch * (o.collective ? o.collective->size() : 1);
  st.batch = choose(std::optional(globalBatch), st.batch, "batch", o, resuming);
  st.trainImages = choose(std::optional(trainImages), st.trainImages, "training images", o,
                          resuming);
  return s;
}

/// Runs the epochs of one training run.
class Trainer {
public:
  Trainer(const TrainBackend &backend, const ModelDescriptor &d, const data::Dataset &trainSet,
          const data::Dataset &testSet, const TrainOptions &o, Start start, int64_t epochs,
          int64_t testImages)
      : backend_(backend), d_(d), trainSet_(trainSet), testSet_(testSet), o_(o),
        weights_(std::move(start.weights)), state_(std::move(start.state)),
        lastGood_(std::move(start.lastGood)), epochs_(epochs), testImages_(testImages),
        imageSize_(d.channels * d.height * d.width), images_(d.batch * imageSize_),
        labels_(d.batch), logits_(d.batch * d.classes),
        comm_(o.collective ? *o.collective : alone_), rank_(comm_.rank()), ranks_(comm_.size()),
        global_(d.batch * ranks_) {}

  Expected<TrainResult> run() {
    if (ranks_ > 1)
      if (Status s = sameStart(); !s)
        return s.error();
    printHeader();
    std::optional<ScopedGradSync> sync;
    if (ranks_ > 1)
      sync.emplace([this](float *grads, int64_t count) { syncGradients(grads, count); });
    double trainSeconds = 0;
    int64_t trained = 0;
    for (int64_t e = int64_t(state_.epochsDone) + 1; e <= epochs_; ++e) {
      Expected<EpochMetrics> m = runEpoch(e, trainSeconds);
      if (!m)
        return m.error();
      if (state_.partial.batches > 0) // stopped by a signal within the epoch
        return stop(e);
      trained += state_.trainImages;
      state_.epochsDone = uint64_t(e);
      state_.history.push_back(*m);
      std::fprintf(o_.out, "%s\n", formatEpochLine(*m).c_str());
      std::fflush(o_.out);
      faultPoint("epoch");
      if (Status s = saveOutputs(); !s)
        return s.error();
      // With ranks, the signal the last step's sums carried (all agree).
      if ((ranks_ > 1 ? signal_ != 0 : gStopSignal != 0) && e < epochs_)
        return stop(e + 1);
    }
    syncHost();
    TrainResult r{std::move(weights_), std::move(state_), 0.0};
    r.steps = steps_;
    r.allreduceSeconds = allreduceSeconds_;
    if (trained > 0) {
      r.examplesPerSecond = trainSeconds > 0 ? double(trained) / trainSeconds : 0.0;
      std::fprintf(o_.out, "%.1f examples/sec on %s\n", r.examplesPerSecond, o_.device.c_str());
    }
    if (ranks_ > 1 && steps_ > 0) {
      std::fprintf(o_.out,
                   "allreduce of the gradients: %.2f ms a step on the last rank to arrive (the "
                   "transfer), %.2f ms on rank 0 (%.1f%% of its training time; waiting for "
                   "the slowest rank included), %d ranks\n",
                   1e3 * transferSeconds_ / double(steps_),
                   1e3 * allreduceSeconds_ / double(steps_),
                   trainSeconds > 0 ? 100.0 * allreduceSeconds_ / trainSeconds : 0.0, ranks_);
    }
    return r;
  }

private:
  /// After a signal: the checkpoint (and metrics) as far as training got,
  /// in epoch `e`, and a note saying how to go on.
  Expected<TrainResult> stop(int64_t e) {
    // Another rank's signal stops this one too (signal_ is then SIGTERM).
    const int signal = gStopSignal ? int(gStopSignal) : signal_;
    const char *name = signal == SIGINT ? "SIGINT" : "SIGTERM";
    if (state_.partial.batches > 0)
      if (Status s = saveOutputs(); !s)
        return s.error();
    const std::string where =
        state_.partial.batches > 0
            ? format("in epoch %lld after batch %llu of %lld", (long long)e,
                     (unsigned long long)state_.partial.batches, (long long)batches())
            : format("after epoch %lld", (long long)(e - 1));
    const std::string next = o_.checkpoint.empty()
                                 ? std::string("no --checkpoint was given: nothing was saved")
                                 : "saved to " + o_.checkpoint + "; go on with --resume " +
                                       o_.checkpoint;
    std::fprintf(o_.out, "stopped by %s %s: %s\n", name, where.c_str(), next.c_str());
    std::fflush(o_.out);
    syncHost();
    TrainResult r{std::move(weights_), std::move(state_), 0.0};
    r.stoppedBy = signal;
    r.steps = steps_;
    r.allreduceSeconds = allreduceSeconds_;
    return r;
  }

  /// Batches an epoch: every image is trained, the last batch may be short
  /// (global batches of ranks_ * d_.batch images).
  int64_t batches() const { return (state_.trainImages + global_ - 1) / global_; }

  /// Data parallel, before the first step: every rank starts from rank 0's
  /// weights, velocity and state (they agree already when all initialise
  /// from the seed or read the same checkpoint; this makes sure).
  Status sameStart() {
    if (Status s = comm_.broadcast(weights_.data(), weights_.size() * sizeof(float), 0); !s)
      return s;
    if (Status s = comm_.broadcast(state_.velocity.data(),
                                   state_.velocity.size() * sizeof(float), 0);
        !s)
      return s;
    // Where each rank starts and what it trains on must agree, or the ranks
    // would make different numbers of collective calls.
    const uint64_t mine[5] = {state_.steps, state_.epochsDone, state_.partial.seen,
                              uint64_t(state_.trainImages), uint64_t(testImages_)};
    uint64_t root[5];
    std::copy(mine, mine + 5, root);
    if (Status s = comm_.broadcast(root, sizeof root, 0); !s)
      return s;
    const char *names[5] = {"steps done", "epochs done", "images done in the epoch",
                            "training images", "test images"};
    for (int i = 0; i < 5; ++i)
      if (mine[i] != root[i])
        return Error{format("error: rank %d starts with %llu %s, rank 0 with %llu: every rank "
                            "must read the same dataset and checkpoint",
                            rank_, (unsigned long long)mine[i], names[i],
                            (unsigned long long)root[i])};
    return Status::ok();
  }

  /// ninc_grad_sync with ranks_ > 1: this rank's gradient (the mean over
  /// its real images) weighted by its share of the global batch's real
  /// images, summed over the ranks.
  void syncGradients(float *grads, int64_t count) {
    const auto t0 = Clock::now();
    ++syncCalls_;
    if (gradScale_ != 1.0f)
      for (int64_t i = 0; i < count; ++i)
        grads[i] *= gradScale_;
    if (Status s = comm_.allreduceSum(grads, size_t(count)); !s && syncError_.empty())
      syncError_ = s.message();
    stepSyncSeconds_ = secondsSince(t0);
    allreduceSeconds_ += stepSyncSeconds_;
  }

  /// CRC-32 of the weights and velocity, the same on every rank or an error.
  Status checkSameWeights(int64_t e) {
    syncHost();
    uLong crc = crc32(0L, Z_NULL, 0);
    for (const std::vector<float> *v : {&weights_, &state_.velocity})
      crc = crc32_z(crc, reinterpret_cast<const Bytef *>(v->data()), v->size() * sizeof(float));
    double range[2] = {double(crc), -double(crc)};
    if (Status s = comm_.allreduceMax(range, 2); !s)
      return s;
    if (range[0] != -range[1])
      return Error{format("error: the weights of the %d ranks differ after epoch %lld (CRC-32 "
                          "%08lx on rank %d; %.0f..%.0f across ranks): the ranks are not "
                          "running the same program on the same data",
                          ranks_, (long long)e, (unsigned long)crc, rank_, -range[1],
                          range[0])};
    return Status::ok();
  }

  /// Before weights_ or state_.velocity are read (TrainBackend::sync).
  void syncHost() {
    if (backend_.sync)
      backend_.sync();
  }

  void printHeader() const {
    const int64_t last = state_.trainImages - (batches() - 1) * global_;
    const std::string ranks =
        ranks_ > 1 ? format(" (%d ranks x %lld, %s)", ranks_, (long long)d_.batch,
                            comm_.name().c_str())
                   : std::string();
    std::fprintf(o_.out,
                 "training '%s' on %s: %lld epoch%s of %lld batches of %lld%s (%lld training "
                 "images per epoch%s), %lld test images, lr %g, momentum %g, "
                 "weight decay %g, seed %llu\n",
                 d_.model.c_str(), o_.device.c_str(), (long long)epochs_, epochs_ == 1 ? "" : "s",
                 (long long)batches(), (long long)global_, ranks.c_str(),
                 (long long)state_.trainImages,
                 last < global_ ? format("; the last batch has %lld", (long long)last).c_str()
                                 : "",
                 (long long)testImages_, double(state_.learningRate), double(state_.momentum),
                 double(state_.weightDecay), (unsigned long long)state_.seed);
    if (o_.resume.empty() && !o_.initialWeights.empty()) // fine-tuning
      std::fprintf(o_.out, "starting from %s\n", o_.initialOrigin.c_str());
    if (!o_.resume.empty() && state_.partial.batches > 0)
      std::fprintf(o_.out, "resuming from %s in epoch %llu after batch %llu (step %llu)\n",
                   o_.resume.c_str(), (unsigned long long)state_.epochsDone + 1,
                   (unsigned long long)state_.partial.batches, (unsigned long long)state_.steps);
    else if (!o_.resume.empty())
      std::fprintf(o_.out, "resuming from %s after epoch %llu (step %llu)\n", o_.resume.c_str(),
                   (unsigned long long)state_.epochsDone, (unsigned long long)state_.steps);
    if (state_.epochsDone >= uint64_t(epochs_))
      std::fprintf(o_.out, "nothing to train: %s already has %llu epochs (--epochs %lld)\n",
                   o_.resume.c_str(), (unsigned long long)state_.epochsDone,
                   (long long)epochs_);
    std::fflush(o_.out);
  }

  /// Trains epoch `e`, then evaluates; adds the time in train steps to
  /// `trainSeconds`.
  Expected<EpochMetrics> runEpoch(int64_t e, double &trainSeconds) {
    const auto start = Clock::now();
    const std::vector<int64_t> order =
        data::shuffledOrder(state_.trainImages, state_.seed, uint64_t(e - 1));
    const float hyper[3] = {state_.learningRate, state_.momentum, state_.weightDecay};
    Progress progress(o_.progress, e, batches());
    // A resumed epoch that a signal stopped goes on at the image it stopped
    // at (its batches were full: `seen` images), whatever the ranks were.
    const TrainState::Partial resumed = state_.partial;
    state_.partial = {};
    double lossSum = resumed.lossSum;
    int64_t correct = int64_t(resumed.correct);
    int64_t seen = int64_t(resumed.seen);
    if (seen >= state_.trainImages)
      return Error{"error: the checkpoint stopped epoch " + std::to_string(e) + " after " +
                   std::to_string(seen) + " images, but an epoch has " +
                   std::to_string(state_.trainImages) + " here"};
    for (int64_t b = (seen + global_ - 1) / global_; seen < state_.trainImages; ++b) {
      // This rank's images of the global batch [seen, seen + global_). A
      // short batch is padded with zero images whose ignore label keeps
      // them out of the loss, the gradients and the accuracy; its loss (the
      // mean over its own images) is weighted by its size, as d2l's
      // train_ch6 does.
      const int64_t real = std::min<int64_t>(global_, state_.trainImages - seen);
      const int64_t mine = seen + rank_ * d_.batch;
      const int n = int(std::clamp<int64_t>(state_.trainImages - mine, 0, d_.batch));
      if (n < d_.batch) {
        std::fill(images_.begin(), images_.end(), 0.0f);
        std::fill(labels_.begin() + n, labels_.end(), kIgnoreLabel);
      }
      if (n > 0)
        data::makeBatch(trainSet_, order.data() + mine, n, int(d_.height), int(d_.width),
                        images_.data(), labels_.data());
      gradScale_ = ranks_ > 1 ? float(double(n) / double(real)) : 1.0f;
      const int64_t calls = syncCalls_;
      float loss = 0;
      backend_.step(images_.data(), labels_.data(), weights_.data(), state_.velocity.data(),
                    hyper, state_.seed, state_.steps, uint64_t(rank_ * d_.batch), &loss,
                    logits_.data());
      faultPoint("step");
      // {loss sum, correct, images, stop}, summed over the ranks.
      double sums[4] = {double(loss) * n, double(countCorrect(n)), double(n),
                        gStopSignal ? 1.0 : 0.0};
      if (ranks_ > 1) {
        if (syncCalls_ == calls)
          return Error{"error: this program's training step does not pass its gradients to "
                       "ninc_grad_sync, so it cannot train with " + std::to_string(ranks_) +
                       " ranks (CUDA programs: multi-rank training is not built yet)"};
        if (!syncError_.empty())
          return Error{syncError_};
        if (Status s = comm_.allreduceSum(sums, 4); !s)
          return s.error();
        // The least of the ranks' times in this step's gradient allreduce:
        // the last to arrive waits for nobody (the transfer itself).
        double least = -stepSyncSeconds_;
        if (Status s = comm_.allreduceMax(&least, 1); !s)
          return s.error();
        transferSeconds_ -= least;
      }
      if (!std::isfinite(sums[0])) {
        progress.finish();
        const double l = ranks_ > 1 ? sums[0] : double(loss);
        return diverged(format("loss is %s at epoch %lld, batch %lld",
                               std::isnan(l) ? "nan" : "inf", (long long)e,
                               (long long)(b + 1)));
      }
      ++state_.steps;
      ++steps_;
      seen += real;
      lossSum += sums[0];
      correct += int64_t(sums[1]);
      progress.update(b + 1, lossSum / double(seen), seen);
      if (sums[3] > 0 && !signal_)
        signal_ = SIGTERM;
      if (sums[3] > 0 && seen < state_.trainImages) {
        progress.finish();
        syncHost();
        state_.partial = {uint64_t(b + 1), lossSum, uint64_t(correct), uint64_t(seen),
                          resumed.seconds + secondsSince(start)};
        return EpochMetrics{};
      }
    }
    const double stepSeconds = resumed.seconds + secondsSince(start);
    trainSeconds += stepSeconds;
    syncHost();
    if (!allFinite(weights_)) {
      progress.finish();
      return diverged(format("the weights are not finite after epoch %lld", (long long)e));
    }
    if (ranks_ > 1)
      if (Status s = checkSameWeights(e); !s)
        return s.error();
    progress.evaluating(testImages_);
    Expected<double> testAccuracy = evaluate();
    if (!testAccuracy)
      return testAccuracy.error();
    progress.finish();
    const double images = double(seen);
    return EpochMetrics{e,
                        lossSum / images,
                        double(correct) / images,
                        *testAccuracy,
                        resumed.seconds + secondsSince(start),
                        stepSeconds > 0 ? images / stepSeconds : 0.0};
  }

  /// How many of the first n images of the batch the logits classify right.
  int64_t countCorrect(int n) const {
    int64_t correct = 0;
    for (int i = 0; i < n; ++i)
      correct += argmax(logits_.data() + i * d_.classes, d_.classes) == labels_[i];
    return correct;
  }

  /// Accuracy on the first testImages_ test images, in inference mode (the
  /// ranks take turns at the batches and sum their counts).
  Expected<double> evaluate() {
    std::vector<int64_t> order(testImages_);
    for (int64_t i = 0; i < testImages_; ++i)
      order[i] = i;
    double correct = 0;
    for (int64_t first = rank_ * d_.batch; first < testImages_; first += global_) {
      const int n = int(std::min<int64_t>(d_.batch, testImages_ - first));
      std::fill(images_.begin(), images_.end(), 0.0f); // a short last batch is padded
      data::makeBatch(testSet_, order.data() + first, n, int(d_.height), int(d_.width),
                      images_.data(), labels_.data());
      backend_.infer(images_.data(), weights_.data(), logits_.data());
      correct += double(countCorrect(n));
    }
    if (Status s = comm_.allreduceSum(&correct, 1); !s)
      return s.error();
    return testImages_ ? correct / double(testImages_) : 0.0;
  }

  Error diverged(const std::string &what) const {
    return Error{"error: training diverged: " + what + " (lr " +
                 format("%g", double(state_.learningRate)) + "); " +
                 (lastGood_.empty() ? std::string("no checkpoint was written")
                                    : "the last good checkpoint is " + lastGood_)};
  }

  /// Checkpoint, metrics and plot, each replaced atomically (rank 0 only).
  Status saveOutputs() {
    if (rank_ != 0)
      return Status::ok();
    if (!o_.checkpoint.empty()) {
      syncHost();
      if (Status s = saveCheckpoint(o_.checkpoint, o_.specBytes, d_, weights_, state_); !s)
        return s;
      lastGood_ = o_.checkpoint;
    }
    if (!o_.metrics.empty())
      if (Status s = writeFileAtomically(
              o_.metrics, formatMetrics(state_.history, endsWith(o_.metrics, ".jsonl")),
              "metrics file");
          !s)
        return s;
    if (!o_.plot.empty())
      return writeFileAtomically(o_.plot, plotSvg(state_.history, d_.model), "plot");
    return Status::ok();
  }

  const TrainBackend &backend_;
  const ModelDescriptor &d_;
  const data::Dataset &trainSet_, &testSet_;
  const TrainOptions &o_;
  std::vector<float> weights_;
  TrainState state_;
  std::string lastGood_;
  const int64_t epochs_, testImages_, imageSize_;
  std::vector<float> images_;
  std::vector<int32_t> labels_;
  std::vector<float> logits_;
  SingleProcess alone_;
  Collective &comm_;
  const int rank_, ranks_;
  const int64_t global_;     ///< Images a step trains: ranks_ * d_.batch.
  float gradScale_ = 1.0f;   ///< This rank's share of the step's real images.
  int64_t syncCalls_ = 0;    ///< ninc_grad_sync calls seen.
  std::string syncError_;    ///< The first failed allreduce of a step.
  int64_t steps_ = 0;
  double allreduceSeconds_ = 0; ///< This rank's, waiting included.
  double stepSyncSeconds_ = 0;  ///< This rank's in the last step's.
  double transferSeconds_ = 0;  ///< Per step the least over the ranks, summed.
  int signal_ = 0;           ///< A signal that stopped some rank.
};

/// The first `limit` of `count` (all for limit 0).
int64_t limited(int64_t limit, int64_t count) {
  return limit > 0 ? std::min(limit, count) : count;
}

/// Refuses an output whose folder cannot be written now, rather than after
/// the first epoch's work.
Status checkWritable(const std::string &path, const std::string &what) {
  if (path.empty())
    return Status::ok();
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  if (::access(dir.c_str(), W_OK) != 0)
    return Error{path + ": error: cannot write " + what + ": folder '" + dir +
                 "' is missing or not writable"};
  return Status::ok();
}

Status checkSetup(const ModelDescriptor &d, const data::Dataset &trainSet,
                  const data::Dataset &testSet, const TrainOptions &o) {
  for (const data::Dataset *ds : {&trainSet, &testSet}) {
    if (ds->channels != d.channels)
      return Error{ds->source + ": error: images of " + std::to_string(ds->channels) +
                   " channel(s); model '" + d.model + "' takes " + std::to_string(d.channels)};
    for (uint8_t label : ds->labels)
      if (label >= d.classes)
        return Error{ds->source + ": error: label " + std::to_string(label) + "; model '" +
                     d.model + "' has " + std::to_string(d.classes) + " classes"};
  }
  if (limited(o.trainLimit, trainSet.count) < 1)
    return Error{"error: the training set (" + trainSet.source + ") has no images"};
  if (testSet.count < 1)
    return Error{"error: the test set (" + testSet.source + ") has no images"};
  if (!o.checkpoint.empty() && o.specBytes.empty())
    return Error{o.checkpoint + ": error: cannot write a checkpoint: the program carries no "
                 "model spec (recompile with ninc compile --mode=train)"};
  if (o.epochs && *o.epochs < 1)
    return Error{"error: expected --epochs >= 1, found " + std::to_string(*o.epochs)};
  if (o.collective && o.collective->rank() != 0)
    return Status::ok(); // only rank 0 writes
  for (const auto &[path, what] : {std::pair{o.checkpoint, "checkpoint"},
                                   std::pair{o.metrics, "metrics file"}, std::pair{o.plot, "plot"}})
    if (Status s = checkWritable(path, what); !s)
      return s;
  return Status::ok();
}

} // namespace

Expected<TrainResult> train(const TrainBackend &backend, const ModelDescriptor &d,
                            const data::Dataset &trainSet, const data::Dataset &testSet,
                            const TrainOptions &options) {
  if (Status s = checkSetup(d, trainSet, testSet, options); !s)
    return s.error();
  Expected<Start> start =
      startingPoint(d, options, limited(options.trainLimit, trainSet.count));
  if (!start)
    return start.error();
  const int64_t epochs = options.epochs.value_or(d.epochs);
  Trainer trainer(backend, d, trainSet, testSet, options, std::move(*start), epochs,
                  limited(options.testLimit, testSet.count));
  StopOnSignals stopOnSignals;
  return trainer.run();
}

} // namespace ninc::rt
