//===- compiler/codegen/cpu/Tuning.cpp - Schedules the autotuner times ---===//
//
// The candidates of a conv / matmul that `ninc compile --autotune`
// (compiler/pipeline/Autotune.cpp) times, as changes to the cost model's
// plan (ScheduleChoice), and how the Scheduler applies the one a timing round
// or the cache names.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cpu/CpuInternal.h"
#include "compiler/dialect/StageContract.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include "llvm/ADT/STLExtras.h"

#include <sstream>

using namespace mlir;

namespace ninc::cpu::detail {
namespace {

using Group = Scheduler::Group;
using Kind = Group::Kind;

/// The op's schedule problem as text: kind, loop ranges, what is fused.
std::string tunableKey(const Group &g, linalg::LinalgOp op) {
  std::string key = g.kind == Kind::Conv ? "conv" : "matmul";
  if (isa<linalg::MatmulTransposeAOp>(op))
    key = "matmul_ta";
  std::string sep = " ";
  for (int64_t r : op.getStaticLoopRanges()) {
    key += sep + std::to_string(r);
    sep = "x";
  }
  if (g.fillTag >= 0)
    key += " fill";
  if (g.consumerTag >= 0)
    key += " epilogue";
  return key;
}

} // namespace

std::string ScheduleChoice::str() const {
  std::string out;
  if (rows > 0)
    out += "tile " + std::to_string(rows) + "x" + std::to_string(cols);
  if (order >= 0)
    out += std::string(out.empty() ? "" : " ") + "order " + (order ? "columns" : "image");
  if (block >= 0)
    out += std::string(out.empty() ? "" : " ") + "block " + std::to_string(block);
  return out.empty() ? "default" : out;
}

std::optional<ScheduleChoice> ScheduleChoice::parse(const std::string &text) {
  ScheduleChoice c;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    if (word == "default")
      continue;
    if (word == "tile") {
      char x = 0;
      if (!(in >> c.rows >> x >> c.cols) || x != 'x' || c.rows < 1 || c.cols < 1)
        return std::nullopt;
    } else if (word == "order") {
      std::string o;
      if (!(in >> o) || (o != "image" && o != "columns"))
        return std::nullopt;
      c.order = o == "columns";
    } else if (word == "block") {
      if (!(in >> c.block) || c.block < 0)
        return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  return c;
}

std::vector<ScheduleChoice> scheduleCandidates(const Group &base, const std::vector<int64_t> &out,
                                               int64_t k, const ScheduleParams &p) {
  std::vector<ScheduleChoice> list = {ScheduleChoice{}};
  auto add = [&](const ScheduleChoice &c) {
    if (llvm::find(list, c) == list.end())
      list.push_back(c);
  };
  const bool matmul = base.kind == Kind::Matmul;
  const int64_t rowExtent = matmul ? out[0] : out[2];
  const int64_t colExtent = matmul ? out[1] : out[3];
  const int64_t baseRows = base.tileSizes[matmul ? 0 : 2];
  const int64_t baseCols = base.tileSizes[matmul ? 1 : 3];
  // The other loop order.
  bool imageOrder = base.interchange.empty() || base.interchange.front() == 0;
  add(ScheduleChoice{0, 0, imageOrder ? 1 : 0, -1});
  // Other register tiles: 1..4 vectors wide, as many rows as the
  // accumulator registers hold (a divisor of the row extent when one keeps
  // the FMA pipes busy, else peeled).
  for (int64_t vectors = 1; vectors <= 4; ++vectors) {
    int64_t cols = vectors * p.lanes;
    if (colExtent % cols != 0 || vectors > p.accumulatorBudget)
      continue;
    int64_t maxRows = std::max<int64_t>(1, p.accumulatorBudget / vectors);
    int64_t rows = largestDivisorAtMost(rowExtent, maxRows);
    if (rows * vectors < p.minAccumulators)
      rows = std::min(rowExtent, maxRows);
    if (rows != baseRows || cols != baseCols)
      add(ScheduleChoice{rows, cols, -1, -1});
    // The most rows, peeled, where the divisor is smaller.
    int64_t most = std::min(rowExtent, maxRows);
    if (most != rows && (most != baseRows || cols != baseCols))
      add(ScheduleChoice{most, cols, -1, -1});
  }
  // K blocks on or off (a matmul without a fused fill or epilogue).
  if (matmul && base.fillTag < 0 && base.consumerTag < 0) {
    if (!base.reductionBlocks.empty())
      add(ScheduleChoice{0, 0, -1, 0});
    else if (int64_t block = largestDivisorAtMost(k, p.reductionBlock);
             k >= 4 * p.reductionBlock && block >= p.reductionBlock / 4)
      add(ScheduleChoice{0, 0, -1, block});
  }
  constexpr size_t kMaxCandidates = 6;
  if (list.size() > kMaxCandidates)
    list.resize(kMaxCandidates);
  return list;
}

void Scheduler::planTuned(Group &g, linalg::LinalgOp op) {
  llvm::ArrayRef<int64_t> out =
      cast<ShapedType>(op.getDpsInitOperand(0)->get().getType()).getShape();
  int64_t k = g.kind == Kind::Matmul ? op.getStaticLoopRanges()[2] : 0;
  std::vector<ScheduleChoice> candidates =
      scheduleCandidates(g, {out.begin(), out.end()}, k, params_);
  TunableOp t;
  t.key = tunableKey(g, op);
  t.function = op->getParentOfType<func::FuncOp>().getName().str();
  t.mode = roleOf(t.function) == FunctionRole::TrainStep ? "train" : "infer";
  for (const ScheduleChoice &c : candidates)
    t.candidates.push_back(c.str());
  if (tuning_->round >= 0) {
    t.used = std::min<int64_t>(tuning_->round, int64_t(candidates.size()) - 1);
  } else if (auto it = tuning_->chosen.find(t.mode + "\t" + t.key);
             it != tuning_->chosen.end()) {
    // A cached choice that is no longer a candidate (another ninc) is
    // ignored: the cost model's plan.
    auto pos = llvm::find(t.candidates, it->second);
    t.used = pos == t.candidates.end() ? 0 : pos - t.candidates.begin();
  }
  if (t.used > 0) {
    // Replanned from the fields planTiled sets only on some paths.
    g.reductionBlocks.clear();
    g.outputRows = 1;
    g.peelLoop = -1;
    planTiled(g, op, params_, candidates[t.used]);
  }
  g.profileId = profileIdOf(op);
  g.tunableIndex = int64_t(tuning_->found.size());
  tuning_->found.push_back(t);
}

void Scheduler::recordRegions(const std::map<int64_t, int64_t> &regionOf) const {
  if (!tuning_)
    return;
  for (const Group &g : groups_)
    if (g.tunableIndex >= 0)
      if (auto it = regionOf.find(g.profileId); it != regionOf.end())
        tuning_->found[g.tunableIndex].regions.push_back(it->second);
}

} // namespace ninc::cpu::detail
