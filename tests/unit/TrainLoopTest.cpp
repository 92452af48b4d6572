//===- tests/unit/TrainLoopTest.cpp - The training loop of compiled programs ===//
//
// runtime/program/Train.cpp driven by the reference interpreter (a
// TrainBackend with ninc_train_step's contract) on real Fashion-MNIST
// images (the two halves of the test split): the model learns, the output has the chapter's format, a resumed
// run is bit-identical to an uninterrupted one, checkpoints load with the
// frontend, damaged state is refused with the file named, divergence keeps
// the last good checkpoint; metrics and plot files. Also the descriptor's
// training records and unpackParam.
//
//===----------------------------------------------------------------------===//

#include "compiler/frontend/Frontend.h"
#include "compiler/model/Program.h"
#include "compiler/reference/Interpreter.h"
#include "runtime/distributed/GradSync.h"
#include "runtime/program/Checkpoint.h"
#include "runtime/program/Train.h"
#include "runtime/program/Weights.h"
#include "tests/unit/TestSupport.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

using namespace ninc;
using ninc::test::TempDir;

namespace {

const std::string kModel = NINC_SOURCE_DIR "/tests/integration/Inputs/nin-learnable.pbtxt";
/// Enough to learn (2048 images, 64 steps an epoch), and a quick run for the
/// tests of files and errors (16 steps an epoch).
constexpr int64_t kTrainLimit = 2048, kTestLimit = 500, kQuickTrain = 512, kQuickTest = 128;

/// The descriptor a compiled model would carry, with training support.
rt::ModelDescriptor describe(const Model &m) {
  rt::ModelDescriptor d = describeModel(m, m.training.batchSize);
  d.trainArenaBytes = 1;
  return d;
}

reference::Params<float> unpack(const rt::ModelDescriptor &d, const float *blob) {
  reference::Params<float> params;
  for (const rt::ParamSlot &slot : d.params) {
    params.emplace_back(slot.numel());
    rt::unpackParam(slot, blob, params.back().data());
  }
  return params;
}

void pack(const rt::ModelDescriptor &d, const reference::Params<float> &params, float *blob) {
  for (size_t p = 0; p < d.params.size(); ++p)
    rt::packParam(d.params[p], params[p].data(), blob);
}

/// ninc_train_step and ninc_infer, computed by the reference interpreter.
/// `poisonStep` (if >= 0) makes that step report a nan loss.
struct ReferenceBackend {
  ReferenceBackend(const Model &m, const rt::ModelDescriptor &d) : interp(m), d(d) {}

  rt::TrainBackend backend() {
    rt::TrainBackend b;
    b.step = [this](const float *input, const int32_t *labels, float *weights, float *velocity,
                    const float *hyper, uint64_t seed, uint64_t step, uint64_t firstImage,
                    float *loss, float *logits) {
      reference::Params<float> params = unpack(d, weights), vel = unpack(d, velocity);
      reference::SgdConfig cfg{hyper[0], hyper[1], hyper[2]};
      // The gradients pass through ninc_grad_sync, as in a compiled CPU step.
      std::function<void(reference::Params<float> &)> sync = [&](reference::Params<float> &grads) {
        std::vector<float> blob(size_t(d.blobSize));
        pack(d, grads, blob.data());
        ninc_grad_sync(blob.data(), d.blobSize);
        grads = unpack(d, blob.data());
      };
      *loss = float(reference::trainStep(interp, params, vel, input, labels, d.batch, cfg, seed,
                                         step, firstImage, sync));
      if (int64_t(step) == poisonStep)
        *loss = std::nanf("");
      const std::vector<float> &out = interp.activation(int(interp.model().layers.size()) - 1);
      std::copy(out.begin(), out.end(), logits);
      pack(d, params, weights);
      pack(d, vel, velocity);
      ++steps;
    };
    b.infer = [this](const float *input, const float *weights, float *logits) {
      const std::vector<float> &out = interp.forward(unpack(d, weights), input, d.batch);
      std::copy(out.begin(), out.end(), logits);
    };
    return b;
  }

  reference::Interpreter<float> interp;
  rt::ModelDescriptor d;
  int64_t poisonStep = -1;
  int64_t steps = 0;
};

/// A temporary FILE* whose contents can be read back.
class Capture {
public:
  Capture() : f_(std::tmpfile()) {}
  ~Capture() { std::fclose(f_); }
  std::FILE *file() const { return f_; }
  std::string text() const {
    std::fflush(f_);
    std::string out;
    std::rewind(f_);
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f_)) > 0;)
      out.append(buf, n);
    return out;
  }

private:
  std::FILE *f_;
};

std::string readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::vector<std::string> linesOf(const std::string &text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

bool sameFloats(const std::vector<float> &a, const std::vector<float> &b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class TrainLoopTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    Expected<Model> m = loadModel(kModel);
    ASSERT_TRUE(m) << m.message();
    model_ = new Model(std::move(*m));
    // The 10000 test images (quicker to load than the 60000), split in two
    // disjoint halves: training and test.
    auto images = data::loadFashionMnist(NINC_TEST_DATA_DIR, data::Split::Test);
    ASSERT_TRUE(images) << images.message();
    trainSet_ = new data::Dataset(slice(*images, 0, 5000));
    testSet_ = new data::Dataset(slice(*images, 5000, 10000));
  }
  static data::Dataset slice(const data::Dataset &ds, int64_t first, int64_t end) {
    data::Dataset part = ds;
    const int64_t image = int64_t(ds.rows) * ds.cols;
    part.count = end - first;
    part.pixels.assign(ds.pixels.begin() + first * image, ds.pixels.begin() + end * image);
    part.labels.assign(ds.labels.begin() + first, ds.labels.begin() + end);
    return part;
  }
  static void TearDownTestSuite() {
    delete model_;
    delete trainSet_;
    delete testSet_;
  }

  void SetUp() override {
    ASSERT_NE(model_, nullptr);
    desc_ = describe(*model_);
  }

  /// Options for a run writing its report and progress to captures.
  rt::TrainOptions options(int64_t epochs, int64_t trainLimit = kQuickTrain,
                           int64_t testLimit = kQuickTest) const {
    rt::TrainOptions o;
    o.epochs = epochs;
    o.trainLimit = trainLimit;
    o.testLimit = testLimit;
    o.specBytes = model_->specBytes;
    o.out = out_.file();
    o.progress = progress_.file();
    return o;
  }

  Expected<rt::TrainResult> run(const rt::TrainOptions &o, int64_t poisonStep = -1) {
    ReferenceBackend ref(*model_, desc_);
    ref.poisonStep = poisonStep;
    return rt::train(ref.backend(), desc_, *trainSet_, *testSet_, o);
  }

  static Model *model_;
  static data::Dataset *trainSet_, *testSet_;
  rt::ModelDescriptor desc_;
  Capture out_, progress_;
  TempDir tmp_;
};

Model *TrainLoopTest::model_ = nullptr;
data::Dataset *TrainLoopTest::trainSet_ = nullptr;
data::Dataset *TrainLoopTest::testSet_ = nullptr;

const std::regex kEpochLine(
    R"(epoch ([0-9]+), loss ([0-9]+\.[0-9]{4}), train acc ([01]\.[0-9]{3}), )"
    R"(test acc ([01]\.[0-9]{3}), time ([0-9]+\.[0-9]) sec)");

} // namespace

//===----------------------------------------------------------------------===//
// Descriptor and layouts
//===----------------------------------------------------------------------===//

// The training records survive format/parse exactly, in readable form.
TEST(TrainDescriptorTest, TrainingFieldsRoundTrip) {
  Expected<Model> m = loadModel(kModel);
  ASSERT_TRUE(m) << m.message();
  rt::ModelDescriptor d = describe(*m);
  d.trainArenaBytes = 1903001600;
  d.weightDecay = 1e-4f;
  d.epochs = 12;
  const std::string text = rt::formatDescriptor(d);
  EXPECT_NE(text.find("\nlr 0.05\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nmomentum 0.9\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nweight_decay 1e-04\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\ntrain_arena 1903001600\n"), std::string::npos) << text;
  Expected<rt::ModelDescriptor> back = rt::parseDescriptor(text);
  ASSERT_TRUE(back) << back.message();
  EXPECT_EQ(back->trainArenaBytes, 1903001600);
  EXPECT_EQ(back->learningRate, 0.05f);
  EXPECT_EQ(back->momentum, 0.9f);
  EXPECT_EQ(back->weightDecay, 1e-4f);
  EXPECT_EQ(back->epochs, 12);
  EXPECT_EQ(rt::formatDescriptor(*back), text);
}

// Descriptors of inference-only programs (no training records) still parse,
// with the spec's defaults and no training support; bad records are refused.
TEST(TrainDescriptorTest, OldDescriptorsGetDefaults) {
  const std::string old = "ninc-descriptor 1\nmodel nin\nbatch 128\ninput 1 224 224\n"
                          "classes 10\nseed 0\nmagnitude 3\nweights 32\narena 4096\n"
                          "param a.weight 0 plain 10\n";
  Expected<rt::ModelDescriptor> d = rt::parseDescriptor(old);
  ASSERT_TRUE(d) << d.message();
  EXPECT_EQ(d->trainArenaBytes, 0);
  EXPECT_EQ(d->learningRate, 0.1f);
  EXPECT_EQ(d->momentum, 0.0f);
  EXPECT_EQ(d->weightDecay, 0.0f);
  EXPECT_EQ(d->epochs, 5);
  Expected<rt::ModelDescriptor> bad = rt::parseDescriptor(old + "lr fast\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.message().find("line 11"), std::string::npos) << bad.message();
  EXPECT_FALSE(rt::parseDescriptor(old + "epochs -1\n"));
  EXPECT_FALSE(rt::parseDescriptor(old + "train_arena -5\n"));
}

// unpackParam inverts packParam for both layouts.
TEST(TrainDescriptorTest, UnpackInvertsPack) {
  for (const char *layout : {"HWCF", "plain"}) {
    rt::ParamSlot slot{"w", 5, layout, {3, 2, 3, 2}};
    std::vector<float> spec(slot.numel()), blob(5 + slot.numel(), -1.0f), back(slot.numel());
    for (size_t i = 0; i < spec.size(); ++i)
      spec[i] = float(i) * 0.5f;
    rt::packParam(slot, spec.data(), blob.data());
    rt::unpackParam(slot, blob.data(), back.data());
    EXPECT_EQ(spec, back) << layout;
  }
}

//===----------------------------------------------------------------------===//
// Training
//===----------------------------------------------------------------------===//

// Two epochs on 2048+20 images: the loss falls, the model beats chance, the
// report has the chapter's lines, the short last batch (20) is trained,
// progress is plain lines, and metrics (CSV) and plot (SVG) hold the printed
// numbers.
TEST_F(TrainLoopTest, LearnsAndReportsLikeTheChapter) {
  rt::TrainOptions o = options(2, kTrainLimit + 20, kTestLimit);
  o.metrics = tmp_.path("metrics.csv");
  o.plot = tmp_.path("curves.svg");
  Expected<rt::TrainResult> r = run(o);
  ASSERT_TRUE(r) << r.message();
  const std::string report = out_.text();
  SCOPED_TRACE(report);
  EXPECT_EQ(r->state.steps, 2u * (kTrainLimit / 32 + 1));
  ASSERT_EQ(r->state.history.size(), 2u);
  const rt::EpochMetrics &e1 = r->state.history[0], &e2 = r->state.history[1];
  EXPECT_LT(e2.loss, e1.loss);
  EXPECT_GT(e2.trainAccuracy, e1.trainAccuracy);
  EXPECT_GT(e2.testAccuracy, 0.25); // chance is 0.1
  EXPECT_GT(r->examplesPerSecond, 0.0);

  std::vector<std::string> lines = linesOf(report);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_NE(lines[0].find("65 batches of 32 (2068 training images per epoch; the last batch "
                          "has 20)"),
            std::string::npos);
  std::smatch match;
  for (int e = 0; e < 2; ++e) {
    ASSERT_TRUE(std::regex_match(lines[1 + e], match, kEpochLine)) << lines[1 + e];
    EXPECT_EQ(match[1], std::to_string(e + 1));
    EXPECT_EQ(lines[1 + e], rt::formatEpochLine(r->state.history[e]));
  }
  EXPECT_TRUE(std::regex_match(lines[3], std::regex(R"([0-9]+\.[0-9] examples/sec on cpu)")))
      << lines[3];
  const std::string progress = progress_.text();
  EXPECT_NE(progress.find("epoch 2: 65/65 batches, loss "), std::string::npos) << progress;

  // metrics.csv: a header and one row per epoch, equal to the printed values.
  std::vector<std::string> rows = linesOf(readBytes(o.metrics));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], "epoch,loss,train_acc,test_acc,seconds,images_per_sec");
  for (int e = 0; e < 2; ++e) {
    rt::EpochMetrics m;
    long long epoch = 0;
    ASSERT_EQ(std::sscanf(rows[1 + e].c_str(), "%lld,%lf,%lf,%lf,%lf,%lf", &epoch, &m.loss,
                          &m.trainAccuracy, &m.testAccuracy, &m.seconds, &m.imagesPerSecond),
              6)
        << rows[1 + e];
    m.epoch = epoch;
    const rt::EpochMetrics &want = r->state.history[e];
    EXPECT_EQ(m.epoch, e + 1);
    EXPECT_NEAR(m.loss, want.loss, 1e-6);
    EXPECT_NEAR(m.trainAccuracy, want.trainAccuracy, 1e-6);
    EXPECT_NEAR(m.testAccuracy, want.testAccuracy, 1e-6);
    EXPECT_NEAR(m.seconds, want.seconds, 1e-3);
    EXPECT_NEAR(m.imagesPerSecond, want.imagesPerSecond, 0.1);
  }

  // curves.svg: one document, three curves, axes and a legend.
  const std::string svg = readBytes(o.plot);
  EXPECT_EQ(svg.rfind("<svg ", 0), 0u) << svg.substr(0, 80);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  size_t polylines = 0;
  for (size_t at = 0; (at = svg.find("<polyline ", at)) != std::string::npos; ++at)
    ++polylines;
  EXPECT_EQ(polylines, 3u);
  for (const char *label : {"train loss", "train acc", "test acc", "class=\"legend\"", ">epoch<"})
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  EXPECT_EQ(tmp_.list(), (std::vector<std::string>{"curves.svg", "metrics.csv"}));
}

// Epoch 1 with a checkpoint, then a resumed epoch 2, equals two epochs in one
// run bit for bit (weights, velocity, step count); history and metrics
// (JSON lines) cover both epochs.
TEST_F(TrainLoopTest, ResumeIsBitIdentical) {
  Expected<rt::TrainResult> whole = run(options(2));
  ASSERT_TRUE(whole) << whole.message();

  rt::TrainOptions first = options(1);
  first.checkpoint = tmp_.path("nin.pb");
  ASSERT_TRUE(run(first)) << out_.text();
  rt::TrainOptions second = options(2);
  second.resume = second.checkpoint = tmp_.path("nin.pb");
  second.metrics = tmp_.path("metrics.jsonl");
  Expected<rt::TrainResult> resumed = run(second);
  ASSERT_TRUE(resumed) << resumed.message();

  EXPECT_TRUE(sameFloats(resumed->weights, whole->weights));
  EXPECT_TRUE(sameFloats(resumed->state.velocity, whole->state.velocity));
  EXPECT_EQ(resumed->state.steps, whole->state.steps);
  ASSERT_EQ(resumed->state.history.size(), 2u);
  EXPECT_EQ(resumed->state.history[1].loss, whole->state.history[1].loss);
  EXPECT_EQ(resumed->state.history[1].testAccuracy, whole->state.history[1].testAccuracy);
  EXPECT_NE(out_.text().find("resuming from " + second.resume + " after epoch 1 (step 16)"),
            std::string::npos)
      << out_.text();
  std::vector<std::string> json = linesOf(readBytes(second.metrics));
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0].rfind("{\"epoch\": 1, \"loss\": ", 0), 0u) << json[0];
  EXPECT_EQ(json[1].rfind("{\"epoch\": 2, \"loss\": ", 0), 0u) << json[1];

  // The final checkpoint holds the final weights; nothing temporary is left.
  Expected<rt::Checkpoint> ck = rt::loadCheckpoint(second.checkpoint, desc_);
  ASSERT_TRUE(ck) << ck.message();
  EXPECT_TRUE(sameFloats(ck->weights, whole->weights));
  EXPECT_EQ(ck->state.epochsDone, 2u);
  EXPECT_EQ(tmp_.list(), (std::vector<std::string>{"metrics.jsonl", "nin.pb", "nin.pb.state"}));
}

// A checkpoint is a model file the frontend reads, with the blob's weights in
// spec layout, and that `--weights` readers (rt::loadWeights) accept.
TEST_F(TrainLoopTest, CheckpointLoadsWithTheFrontend) {
  rt::TrainOptions o = options(1);
  o.checkpoint = tmp_.path("trained.pb");
  Expected<rt::TrainResult> r = run(o);
  ASSERT_TRUE(r) << r.message();
  Expected<Model> m = loadModel(o.checkpoint);
  ASSERT_TRUE(m) << m.message();
  EXPECT_EQ(m->name, model_->name);
  EXPECT_EQ(m->layers.size(), model_->layers.size());
  EXPECT_EQ(m->training.learningRate, model_->training.learningRate);
  reference::Params<float> want = unpack(desc_, r->weights.data());
  ASSERT_EQ(m->weights.size(), desc_.params.size());
  for (size_t p = 0; p < want.size(); ++p) {
    EXPECT_EQ(m->weights[p].name, desc_.params[p].name);
    EXPECT_EQ(m->weights[p].shape, desc_.params[p].shape);
    EXPECT_TRUE(sameFloats(m->weights[p].data, want[p])) << desc_.params[p].name;
  }
  Expected<std::vector<float>> blob = rt::loadWeights(o.checkpoint, desc_);
  ASSERT_TRUE(blob) << blob.message();
  EXPECT_TRUE(sameFloats(*blob, r->weights));
}

// Damaged or mismatched state is refused with the file named, before any
// training, so the checkpoint being resumed is not overwritten.
TEST_F(TrainLoopTest, DamagedStateIsRefused) {
  rt::TrainOptions o = options(1);
  o.checkpoint = tmp_.path("nin.pb");
  ASSERT_TRUE(run(o)) << out_.text();
  const std::string statePath = rt::statePath(o.checkpoint);
  const std::string model = readBytes(o.checkpoint), state = readBytes(statePath);
  ASSERT_GT(state.size(), 100u);

  rt::TrainOptions again = options(2);
  again.resume = again.checkpoint = o.checkpoint;
  auto expectRefused = [&](const std::string &stateBytes, const std::string &what) {
    tmp_.write("nin.pb.state", stateBytes);
    Expected<rt::TrainResult> r = run(again);
    ASSERT_FALSE(r) << what;
    EXPECT_NE(r.message().find(statePath + ": error: "), std::string::npos) << r.message();
    EXPECT_NE(r.message().find(what), std::string::npos) << r.message();
    EXPECT_EQ(readBytes(o.checkpoint), model);
    EXPECT_EQ(tmp_.list(), (std::vector<std::string>{"nin.pb", "nin.pb.state"}))
        << "after: " << what;
  };
  expectRefused(state.substr(0, state.size() - 100), "truncated training state");
  expectRefused(state.substr(0, 20), "truncated training state");
  std::string flipped = state;
  flipped[state.size() / 2] ^= 0x10;
  expectRefused(flipped, "checksum mismatch");
  expectRefused(state + "x", "bytes after its end");
  expectRefused("PK\x03\x04 not a state file at all, clearly", "expected a ninc training state");

  // A state of other weights: epoch 2's state beside epoch 1's weights.
  tmp_.write("nin.pb.state", state);
  rt::TrainOptions later = options(2);
  later.resume = o.checkpoint;
  later.checkpoint = tmp_.path("later.pb");
  ASSERT_TRUE(run(later)) << out_.text();
  const std::string laterState = readBytes(rt::statePath(later.checkpoint));
  std::remove(later.checkpoint.c_str());
  std::remove(rt::statePath(later.checkpoint).c_str());
  expectRefused(laterState, "does not belong to the weights in " + o.checkpoint);

  // No state at all.
  Expected<rt::TrainResult> r = [&] {
    std::remove(statePath.c_str());
    return run(again);
  }();
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find(statePath + ": error: cannot open training state"),
            std::string::npos)
      << r.message();
  EXPECT_EQ(readBytes(o.checkpoint), model);
}

// A nan loss stops training with the epoch, batch and lr named, and leaves the
// last good checkpoint (model and state) byte for byte as it was.
TEST_F(TrainLoopTest, DivergenceKeepsTheLastGoodCheckpoint) {
  rt::TrainOptions o = options(1);
  o.checkpoint = tmp_.path("nin.pb");
  ASSERT_TRUE(run(o)) << out_.text();
  const std::string model = readBytes(o.checkpoint);
  const std::string state = readBytes(rt::statePath(o.checkpoint));

  rt::TrainOptions more = options(3);
  more.resume = more.checkpoint = o.checkpoint;
  Expected<rt::TrainResult> r = run(more, /*poisonStep=*/16 + 6);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.message(), "error: training diverged: loss is nan at epoch 2, batch 7 (lr 0.05); "
                         "the last good checkpoint is " +
                             o.checkpoint);
  EXPECT_EQ(readBytes(o.checkpoint), model);
  EXPECT_EQ(readBytes(rt::statePath(o.checkpoint)), state);
  EXPECT_EQ(tmp_.list(), (std::vector<std::string>{"nin.pb", "nin.pb.state"}));

  // A real divergence: lr 1e6 blows up in the first epoch, before any
  // checkpoint exists.
  rt::TrainOptions wild = options(1);
  wild.learningRate = 1e6f;
  wild.checkpoint = tmp_.path("wild.pb");
  Expected<rt::TrainResult> w = run(wild);
  ASSERT_FALSE(w);
  EXPECT_NE(w.message().find("error: training diverged: "), std::string::npos) << w.message();
  EXPECT_NE(w.message().find("epoch 1"), std::string::npos) << w.message();
  EXPECT_NE(w.message().find("(lr 1e+06); no checkpoint was written"), std::string::npos)
      << w.message();
  EXPECT_EQ(tmp_.list(), (std::vector<std::string>{"nin.pb", "nin.pb.state"}));
}

// A checkpoint without a spec, or an output in a missing folder fail up
// front, before any training.
TEST_F(TrainLoopTest, RefusesImpossibleRuns) {
  rt::TrainOptions o = options(1);
  o.specBytes.clear();
  o.checkpoint = tmp_.path("x.pb");
  Expected<rt::TrainResult> r = run(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find(o.checkpoint + ": error: cannot write a checkpoint"),
            std::string::npos)
      << r.message();
  o = options(1);
  o.metrics = tmp_.path("missing/metrics.csv");
  r = run(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find(o.metrics + ": error: cannot write metrics file"),
            std::string::npos)
      << r.message();
  EXPECT_TRUE(tmp_.list().empty());
}

// --- Data-parallel training (docs/distributed.md) ------------------------------

// The stand-in collective: sums in rank order, maxima and broadcasts reach
// every rank, as MPI's do.
TEST(CollectiveTest, LocalGroupReducesAndBroadcastsToEveryRank) {
  constexpr int kRanks = 3;
  rt::LocalGroup group(kRanks);
  std::vector<std::array<double, 5>> seen(kRanks);
  std::vector<std::thread> threads;
  for (int r = 0; r < kRanks; ++r)
    threads.emplace_back([&, r] {
      rt::Collective &c = group.member(r);
      float f[2] = {float(r + 1), 0.25f * float(r)};
      double d[1] = {double(10 - r)};
      int64_t x = r == 1 ? 42 : -1;
      EXPECT_TRUE(c.allreduceSum(f, 2));
      EXPECT_TRUE(c.allreduceMax(d, 1));
      EXPECT_TRUE(c.broadcast(&x, sizeof x, 1));
      seen[size_t(r)] = {double(f[0]), double(f[1]), d[0], double(x), double(c.size())};
    });
  for (std::thread &t : threads)
    t.join();
  for (int r = 0; r < kRanks; ++r)
    EXPECT_EQ(seen[size_t(r)], (std::array<double, 5>{6.0, 0.75, 10.0, 42.0, 3.0})) << r;
}

class DataParallelTest : public TrainLoopTest {
protected:
  /// The descriptor of the model compiled for `batch`.
  rt::ModelDescriptor at(int64_t batch) const {
    rt::ModelDescriptor d = describeModel(*model_, batch);
    d.trainArenaBytes = 1;
    return d;
  }

  /// `ranks` ranks at batch `batch` (threads, the stand-in collective), each
  /// with `o` (rank 0 reports to out_, the others to nowhere); every rank's
  /// result.
  std::vector<Expected<rt::TrainResult>> runRanks(int ranks, int64_t batch,
                                                  const rt::TrainOptions &o) {
    rt::LocalGroup group(ranks);
    const rt::ModelDescriptor d = at(batch);
    std::vector<std::optional<Expected<rt::TrainResult>>> results(static_cast<size_t>(ranks));
    std::vector<std::thread> threads;
    Capture quiet;
    for (int r = 0; r < ranks; ++r)
      threads.emplace_back([&, r] {
        ReferenceBackend ref(*model_, d);
        rt::TrainOptions mine = o;
        mine.collective = &group.member(r);
        if (r > 0) {
          mine.out = quiet.file();
          mine.progress = nullptr;
        }
        results[size_t(r)] = rt::train(ref.backend(), d, *trainSet_, *testSet_, mine);
      });
    for (std::thread &t : threads)
      t.join();
    std::vector<Expected<rt::TrainResult>> out;
    for (auto &r : results)
      out.push_back(std::move(*r));
    return out;
  }

  /// One process at `batch`.
  Expected<rt::TrainResult> runAlone(int64_t batch, const rt::TrainOptions &o) {
    const rt::ModelDescriptor d = at(batch);
    ReferenceBackend ref(*model_, d);
    return rt::train(ref.backend(), d, *trainSet_, *testSet_, o);
  }

  /// max |a - b| over max |b|.
  static double relativeDiff(const std::vector<float> &a, const std::vector<float> &b) {
    double diff = 0, scale = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      diff = std::max(diff, std::fabs(double(a[i]) - double(b[i])));
      scale = std::max(scale, std::fabs(double(b[i])));
    }
    return scale > 0 ? diff / scale : diff;
  }
};

// 2 ranks at batch 16 train as 1 process at batch 32: the same shuffle and
// seed, gradients summed in another order. 200 images an epoch: 6 global
// batches of 32 and one of 8, all of them rank 0's (rank 1 steps on padding
// alone and weighs 0). Tolerance: 1e-5 of the largest weight after 14 steps
// with momentum (float sums in another order; measured 2e-7).
TEST_F(DataParallelTest, TwoRanksTrainAsOneProcessAtTwiceTheBatch) {
  const rt::TrainOptions o = options(2, /*trainLimit=*/200, /*testLimit=*/100);
  Expected<rt::TrainResult> alone = runAlone(32, o);
  ASSERT_TRUE(alone) << alone.message();
  const std::string aloneText = out_.text();
  std::vector<Expected<rt::TrainResult>> ranks = runRanks(2, 16, o);
  ASSERT_TRUE(ranks[0]) << ranks[0].message();
  ASSERT_TRUE(ranks[1]) << ranks[1].message();

  EXPECT_TRUE(sameFloats(ranks[0]->weights, ranks[1]->weights));
  EXPECT_TRUE(sameFloats(ranks[0]->state.velocity, ranks[1]->state.velocity));
  EXPECT_EQ(ranks[0]->state.steps, alone->state.steps);
  EXPECT_EQ(alone->state.steps, 14u);
  EXPECT_LT(relativeDiff(ranks[0]->weights, alone->weights), 1e-5);
  ASSERT_EQ(ranks[0]->state.history.size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_NEAR(ranks[0]->state.history[e].loss, alone->state.history[e].loss, 1e-5);
    EXPECT_NEAR(ranks[0]->state.history[e].trainAccuracy,
                alone->state.history[e].trainAccuracy, 0.011);
    EXPECT_NEAR(ranks[0]->state.history[e].testAccuracy, alone->state.history[e].testAccuracy,
                0.011);
  }
  const std::string text = out_.text().substr(aloneText.size());
  EXPECT_NE(text.find("epochs of 7 batches of 32 (2 ranks x 16, threads of one process"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("allreduce of the gradients: "), std::string::npos) << text;
}

// A checkpoint of 2 ranks resumes with 1 and the reverse: the global batch is
// the same (32), so the runs match an uninterrupted one within the tolerance
// above.
TEST_F(DataParallelTest, ResumesWithAnotherNumberOfRanks) {
  const rt::TrainOptions two = options(2, 200, 100);
  Expected<rt::TrainResult> whole = runAlone(32, two);
  ASSERT_TRUE(whole) << whole.message();

  rt::TrainOptions first = options(1, 200, 100);
  first.checkpoint = tmp_.path("ranks2.pb");
  std::vector<Expected<rt::TrainResult>> ranks = runRanks(2, 16, first);
  ASSERT_TRUE(ranks[0]) << ranks[0].message();
  rt::TrainOptions second = options(2, 200, 100);
  second.resume = first.checkpoint;
  Expected<rt::TrainResult> resumedAlone = runAlone(32, second);
  ASSERT_TRUE(resumedAlone) << resumedAlone.message();
  EXPECT_LT(relativeDiff(resumedAlone->weights, whole->weights), 1e-5);
  EXPECT_EQ(resumedAlone->state.steps, whole->state.steps);
  EXPECT_EQ(progress_.text().find("warning: resuming"), std::string::npos) << progress_.text();

  first.checkpoint = tmp_.path("alone.pb");
  ASSERT_TRUE(runAlone(32, first));
  second.resume = first.checkpoint;
  ranks = runRanks(2, 16, second);
  ASSERT_TRUE(ranks[0]) << ranks[0].message();
  ASSERT_TRUE(ranks[1]) << ranks[1].message();
  EXPECT_TRUE(sameFloats(ranks[0]->weights, ranks[1]->weights));
  EXPECT_LT(relativeDiff(ranks[0]->weights, whole->weights), 1e-5);
  EXPECT_EQ(ranks[0]->state.steps, whole->state.steps);
}

// A step that does not call ninc_grad_sync (a CUDA program) cannot train with
// ranks: every rank stops at its first step with the reason.
TEST_F(DataParallelTest, RefusesAStepThatHidesItsGradients) {
  rt::LocalGroup group(2);
  const rt::ModelDescriptor d = at(16);
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  Capture quiet;
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] {
      ReferenceBackend ref(*model_, d);
      rt::TrainBackend b = ref.backend();
      b.step = [&ref](const float *input, const int32_t *labels, float *weights,
                      float *velocity, const float *hyper, uint64_t seed, uint64_t step,
                      uint64_t, float *loss, float *logits) {
        reference::Params<float> params = unpack(ref.d, weights), vel = unpack(ref.d, velocity);
        *loss = float(reference::trainStep(ref.interp, params, vel, input, labels, ref.d.batch,
                                           {hyper[0], hyper[1], hyper[2]}, seed, step));
        pack(ref.d, params, weights);
        std::fill(logits, logits + ref.d.batch * ref.d.classes, 0.0f);
      };
      rt::TrainOptions o = options(1, 200, 100);
      o.collective = &group.member(r);
      o.out = r == 0 ? out_.file() : quiet.file();
      Expected<rt::TrainResult> res = rt::train(b, d, *trainSet_, *testSet_, o);
      errors[size_t(r)] = res ? "" : res.message();
    });
  for (std::thread &t : threads)
    t.join();
  for (const std::string &e : errors)
    EXPECT_NE(e.find("does not pass its gradients to ninc_grad_sync, so it cannot train with 2 "
                     "ranks"),
              std::string::npos)
        << e;
}
