//===- compiler/codegen/cpu/CpuInternal.h - Backend internals --*- C++ -*-===//
//
// Pieces of the CPU backend shared between its files (not a public API):
// tile-size heuristics, the schedule builder, and the IR rewrites around
// bufferization.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_CODEGEN_CPU_CPUINTERNAL_H
#define NINC_COMPILER_CODEGEN_CPU_CPUINTERNAL_H

#include "compiler/codegen/cpu/CpuCodegen.h"
#include "compiler/target/Target.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
class ModuleOp;
class OpBuilder;
class Operation;
class Type;
class Value;
namespace tensor {
class ExtractSliceOp;
}
namespace linalg {
class LinalgOp;
}
} // namespace mlir

namespace llvm {
class Module;
}

namespace mlir {
class Location;
}

namespace ninc::cpu::detail {

/// What the schedules take from the Target (compiler/target/Target.h): the
/// register file, the caches and the threads. Nothing in the schedules is a
/// constant of one ISA; scheduleParamsFor derives every field from the
/// CpuTarget (TileSizes.cpp says how and what it was measured on).
struct ScheduleParams {
  /// fp32 lanes of one vector register (AVX-512: 16, AVX2: 8, SSE: 4).
  int64_t lanes = 16;
  /// Vector registers the accumulators of a register tile may use; the rest
  /// hold the filter row and the broadcast input (AVX-512: 26 of 32 zmm,
  /// AVX2: 13 of 16 ymm).
  int64_t accumulatorBudget = 26;
  /// Independent accumulators that hide the FMA latency: FMA pipes x the
  /// FMA latency (4 cycles on every x86-64 core since Skylake and Zen 2).
  int64_t minAccumulators = 8;
  /// Weights up to this size are kept in L2 while the image is swept in
  /// order (half of the L2: the packed weights plus the streaming input).
  int64_t imageOrderWeightBytes = 512 * 1024;
  /// A long matmul reduction (K at least 8x this, no fused fill or
  /// epilogue) is cut into blocks of the largest divisor of K up to this
  /// many (and not under a quarter of it): the A and B panels of a block
  /// stay in L2 while the register tiles sweep them.
  int64_t reductionBlock = 256;
  /// A conv whose filter column strip (KH x KW x C x TF floats, the slice a
  /// register tile streams over) exceeds 4x this (an L2) is swept in blocks
  /// of KH rows of at most this size.
  int64_t filterStripBytes = 256 * 1024;
  /// The L2 of a core and the L3 the threads share (the loop order's
  /// traffic model, Schedule.cpp).
  int64_t l2Bytes = 512 * 1024, l3Bytes = 4 * 1024 * 1024;
  /// Threads of the parallel loops.
  int threads = 1;
  /// The LLVM CPU the figures are for (for the report).
  std::string cpu;
  /// Where the figures came from, for --schedule-report.
  std::string describe() const;
};

/// The schedule parameters of `cpu` with `threads` threads.
ScheduleParams scheduleParamsFor(const CpuTarget &cpu, int threads);

/// A schedule the autotuner may pick for a conv or matmul, as changes to the
/// cost model's plan; as text "default" or e.g. "tile 6x16 order columns
/// block 128" (only what differs is named).
struct ScheduleChoice {
  int64_t rows = 0, cols = 0; ///< Register tile; 0: the cost model's.
  int order = -1;             ///< 0: image order, 1: column tiles outermost.
  int64_t block = -1;         ///< Matmul K blocks: 0 none, > 0 that block.
  std::string str() const;
  static std::optional<ScheduleChoice> parse(const std::string &text);
  bool operator==(const ScheduleChoice &o) const {
    return rows == o.rows && cols == o.cols && order == o.order && block == o.block;
  }
};

/// A register tile of an output row: `rows` outputs along W (conv) or M
/// (matmul) times `cols` channels along F (or N).
struct RegisterTile {
  int64_t rows = 1;
  int64_t cols = 1;
  /// True when `rows` does not divide the row extent: the tiled loop is
  /// peeled into full tiles plus one static remainder tile.
  bool peel = false;
};

/// Chooses the register tile for an output of `rowExtent` x `colExtent`
/// (conv: OW x F, matmul: M x N, pooling: OW x C): `cols` a divisor of
/// colExtent, preferably two vectors or one (`p.lanes` lanes each); `rows`
/// the largest divisor of rowExtent that keeps rows * ceil(cols / lanes)
/// within the accumulator budget, or, when no divisor gives at least half the
/// budget's accumulators, the largest fitting non-divisor (peeled).
RegisterTile chooseRegisterTile(int64_t rowExtent, int64_t colExtent, const ScheduleParams &p);
/// A pool's register tile: at most two vectors of channels by the largest
/// divisor of rowExtent up to 6 (no FMA latency to hide; fewer registers
/// for the window's loads).
RegisterTile choosePoolTile(int64_t rowExtent, int64_t colExtent, const ScheduleParams &p);

/// Largest divisor of `extent` that is at most `limit` (>= 1).
int64_t largestDivisorAtMost(int64_t extent, int64_t limit);

/// After bufferization: a buffer allocated inside a parallel loop (a 1x1
/// chain's row block, one per iteration) goes on the thread's stack
/// (memref.alloca, at most kStackBufferBytes) instead of malloc and free
/// every iteration; hoisting it out of the loop would share it between
/// threads (Rewrites.cpp).
constexpr int64_t kStackBufferBytes = 256 * 1024;
void stackAllocateLoopBuffers(mlir::ModuleOp module);

/// Before scheduling: a zero tensor.pad whose source is computed into a
/// tensor.empty becomes that source inserted into a zero-filled canvas
/// created before it, which its producer then writes into (Rewrites.cpp).
void padsIntoCanvases(mlir::ModuleOp module);

/// After vectorization: a vector maximum of two computed values (the max
/// pools' window, NiN's only such use besides reductions) becomes
/// select(a > b, a, b), one vmaxps, instead of arith.maximumf's NaN and
/// signed-zero handling (6 instructions an element on x86). A NaN in a
/// window is then skipped, as the reference interpreter does after a
/// window's first element; ReLU's max(x, 0) keeps arith.maximumf, so NaNs
/// still reach the loss (Rewrites.cpp).
void selectMaxima(mlir::ModuleOp module);

/// The attribute that tags the ops a schedule refers to.
constexpr const char *kScheduleTag = "ninc.sched";

/// Copies `from`'s discardable attributes (layer tags) onto its replacement
/// `to`, but not linalg's own (linalg.memoized_indexing_maps: a named op's
/// cached maps, wrong on an op of another kind).
void copyTags(mlir::Operation *from, mlir::Operation *to);

/// Sets `ninc.sched = tag` on `op`.
void tagForSchedule(mlir::Operation *op, int64_t tag);

/// Zeros around an H x W region of a conv's [N, H', W', C] input, the
/// result of `source` (a tensor.pad or the insert_slice into a zero canvas):
/// the region starts at row `top`, column `left`; `right` zero columns
/// follow it.
struct ZeroPadding {
  mlir::Operation *source = nullptr;
  int64_t top = 0, left = 0, right = 0, height = 0, width = 0;
};

/// The schedule of one module, applied in two transform scripts with the
/// operand packing (C++) in between:
///   tilingScript    - other linalg ops to vector rows, then for the convs
///                     and matmuls: forall over the batch, register tiles,
///                     producer and consumer fusion, peeling;
///   packOperands    - gives the filter (conv) / B (matmul) slice each tile
///                     reads a contiguous layout [F/TF][KH][KW][C][TF]: the
///                     HWCF slice is 128 B out of every F*4 bytes, and with
///                     F = 256 that 1 KiB stride maps the slice onto 1/8 of
///                     the L2 sets (a 300 KB slice thrashes a 2 MB L2);
///   finishingScript - the packing ops to vector rows, reduction tiling,
///                     decomposition, vectorization, bufferization, vector
///                     lowering.
/// Ops are tagged with `ninc.sched = <id>`; the scripts match them by tag.
class Scheduler {
public:
  /// Tags the linalg ops of `module` (static shapes) and plans their tiles.
  /// With `tuning`: each conv / matmul takes the schedule it names (a
  /// timing round's candidate or a chosen one) and is listed in
  /// tuning->found.
  Scheduler(mlir::ModuleOp module, const ScheduleParams &params,
            ScheduleTuning *tuning = nullptr);
  /// After instrumentProfile: the profile regions each tunable op runs in
  /// (`regionOf`: an op's nin.prof id -> its region).
  void recordRegions(const std::map<int64_t, int64_t> &regionOf) const;

  std::string tilingScript() const;
  /// `keepPackedWeights`: in a function with the nin.repack flag, pack the
  /// weights' filters into buffers kept between calls (needs the memory
  /// plan), only when the flag is set.
  void packOperands(mlir::ModuleOp module, bool keepPackedWeights);
  /// One line per scheduled op: what it is, the rule that planned it and
  /// its tiles (`ninc compile --schedule-report`). Call before the scripts.
  std::string report(mlir::ModuleOp module) const;
  std::string finishingScript() const;

  /// The plan for one tagged anchor op (and what is fused with it); `Rows`:
  /// any other linalg op, tiled to vector rows along its innermost dim.
  struct Group {
    enum class Kind { Conv, Matmul, Pool, Rows };
    Kind kind = Kind::Rows;
    int64_t anchorTag = -1, rootTag = -1, fillTag = -1, consumerTag = -1;
    std::vector<int64_t> forallSizes; // empty: no scf.forall
    std::vector<int64_t> tileSizes;   // register tile (or vector row)
    std::vector<int64_t> interchange;
    std::vector<int64_t> reductionSizes;
    int64_t peelLoop = -1; // index of the loop to peel, -1: none
    int64_t packTile = 0;  // column tile of the packed operand, 0: none
    bool bf16 = false;     // vdpbf16ps register tiles (Bf16.cpp)
    int64_t outputRows = 1; // conv tiles spanning this many output rows
                            // (hand-built tiles, MicroKernels.cpp)
    // Set: hand-built tiles without the taps that read the zero padding of
    // the input (buildPaddedConvTile).
    std::optional<ZeroPadding> padding;
    // Reduction dims tiled (an scf.for outside the register tiles) to these
    // sizes, 0 untiled; empty: none (matmul: K; conv: KH).
    std::vector<int64_t> reductionBlocks;
    int64_t unrollChannels = 0; // conv: unroll the C loop (its trip count)
    int64_t profileId = -1;   // the anchor's nin.prof (tagProfileOps)
    int64_t tunableIndex = -1; // its entry in ScheduleTuning::found
    // A 1x1 chain (matmul -> bias/ReLU -> matmul): on the second matmul's
    // group, the index in groups_ of the first, whose row blocks are
    // computed inside this group's forall (chainRows rows an iteration)
    // right before this group reads them; on the first, `chained`.
    int64_t chainProducer = -1;
    int64_t chainRows = 0;
    bool chained = false;
  };

private:
  std::vector<Group> groups_;
  std::vector<Group> packGroups_; // the packing transposes (finishing script)
  /// Lists a conv / matmul anchor in tuning_->found and replans it with the
  /// candidate the tuning names.
  void planTuned(Group &g, mlir::linalg::LinalgOp op);

  int64_t nextTag_ = 0;
  ScheduleParams params_;
  ScheduleTuning *tuning_ = nullptr;
};

/// Plans the register tiles, loop order, thread split and blocks of a conv
/// / matmul / pooling anchor (Schedule.cpp): the cost model's plan, with
/// what `choice` names (an autotuned schedule) changed.
void planTiled(Scheduler::Group &g, mlir::linalg::LinalgOp anchor, const ScheduleParams &p,
               const ScheduleChoice &choice = {});

/// The schedules the autotuner times for a conv / matmul anchor of kind
/// `kind` (output `out`, reduction `k` for a matmul), [0] the cost model's:
/// the other loop order, other register tiles (one to four vectors wide,
/// the most rows the registers hold), and for a matmul the K blocks on or
/// off. `base` is the cost model's plan.
std::vector<ScheduleChoice> scheduleCandidates(const Scheduler::Group &base,
                                               const std::vector<int64_t> &out, int64_t k,
                                               const ScheduleParams &p);

/// The plan for a `Rows` op with static loop `ranges`: [forall over the
/// first of its `parallelPrefix` leading parallel dims with work for every
/// thread], then tiles of one vector row (up to 64 lanes) along the
/// innermost dim when it is parallel, single elements otherwise.
Scheduler::Group planRows(int64_t tag, const std::vector<int64_t> &ranges,
                          bool innerParallel, int64_t parallelPrefix, const ScheduleParams &p);

/// The plan for an all-parallel copy whose inputs are read through one
/// permutation that moves their innermost dim (the weight gradients'
/// per-group transposes): blocks of lanes x up to lanes, transposed in
/// registers; nullopt for any other op.
std::optional<Scheduler::Group> planTranspose(mlir::linalg::LinalgOp op, int64_t tag,
                                              const ScheduleParams &p);

/// The plan for the VNNI pack of a bf16 group's filter (loops [F/TF, L...,
/// C/2, TF, 2]): [forall over the first dim with work for every thread],
/// then one tile x 2 block of the output per iteration.
Scheduler::Group planVnniPack(int64_t tag, const std::vector<int64_t> &ranges,
                              int threads);

/// WeightLayouts.cpp. The function's nin.repack flag argument (its last),
/// or null.
mlir::Value repackFlagOf(mlir::Operation *op);
/// True when `v` is a view of the nin.weights argument (through slices and
/// reshapes): it changes only when the caller says so.
bool isWeightView(mlir::Value v);
/// A weight layout of `shape` that `compute` writes into the destination
/// tensor it is given, built with `b`: without `repack`, into a fresh tensor
/// on every call; with it (a function's nin.repack flag), into a buffer the
/// memory plan keeps between calls (named after the layer at `user`), only
/// when the flag is set. Returns the value the users read.
mlir::Value weightLayout(
    mlir::OpBuilder &b, mlir::Location loc, mlir::Location user,
    const std::vector<int64_t> &shape, mlir::Type element, mlir::Value repack,
    const std::function<mlir::Value(mlir::OpBuilder &, mlir::Location, mlir::Value)> &compute);
/// [..., F] -> [..., width]: `source` with zero columns F..width-1, right
/// after its definition (weightLayout says where and when).
mlir::Value padColumns(mlir::Value source, int64_t width, mlir::Value repack,
                       mlir::Location user);
/// Before scheduling: each fp32 conv with fewer output channels than two
/// vectors of `lanes`, not whole vectors nor a power of two (not a legal
/// vector type: 10 classes), whose filter is a weight view
/// and whose one user is a bias/ReLU epilogue, is computed (with the
/// epilogue) on whole vectors over zero-padded weights, the first channels
/// of the result replacing the old one. `keepPackedWeights`: the padded
/// weights of a function with the nin.repack flag are kept between calls.
void widenNarrowConvs(mlir::ModuleOp module, int64_t lanes, bool keepPackedWeights);

/// A slice of `slice`'s source that is whole in every dimension but the last
/// and a `tile`-wide window of the last (the output channels).
bool isColumnTile(mlir::tensor::ExtractSliceOp slice, int64_t tile);

/// Bf16.cpp (--precision=bf16). The attribute on the convs and matmuls that
/// multiply in bf16.
constexpr const char *kBf16Tag = "ninc.bf16";
/// fp32 lanes of vdpbf16ps.512's accumulator: the bf16 tiles are AVX-512
/// code (the Target must have avx512bf16, checked by supportsPrecision).
constexpr int64_t kBf16DotLanes = 16;
/// Before scheduling: rounds the input of every eligible conv / matmul to
/// bf16 and tags the op kBf16Tag (eligible: its register tile, as `params`
/// plans it, is whole vdpbf16ps vectors wide).
void markBf16Ops(mlir::ModuleOp module, const ScheduleParams &params);
/// After tiling: packs the filters of the tiles of `anchorTags` into the
/// VNNI layout (one pack per filter and tile width, each handed to
/// `schedulePack`) and rewrites each tile as vdpbf16ps register tiles.
/// Returns how many tiles it rewrote.
int64_t lowerBf16Tiles(mlir::ModuleOp module, const std::vector<int64_t> &anchorTags,
                       const std::function<void(mlir::Operation *)> &schedulePack);

/// MicroKernels.cpp, on a tiled op (after tiling, on tensors): the bf16
/// conv/matmul tile over the VNNI-packed filter slice `packed` ([1, L...,
/// C/2, TF * 2]) as vdpbf16ps loops; returns the tile's new output tensor.
mlir::Value buildBf16DotTile(mlir::OpBuilder &b, mlir::Operation *tile, mlir::Value packed);
/// The fp32 conv tile [1, TH, TW, TF] (TH > 1: Group::outputRows) as FMAs
/// on vectors of `lanes` fp32.
mlir::Value buildFmaConvTile(mlir::OpBuilder &b, mlir::Operation *tile, int64_t lanes);
/// The padding of a conv's (dilation 1) input when it is zeros around an
/// H x W region: a tensor.pad of a constant 0 on H and W, or a zero fill
/// with one unit-stride insert_slice (an input gradient's canvas).
std::optional<ZeroPadding> zeroPaddingOf(mlir::Operation *conv);
/// A tile [1, TH, TW, TF] of such a conv (whose window it reads through
/// unit-stride slices of padding.source's result) as fp32 FMAs on vectors
/// of `lanes` for only the taps that read the H x W region; null when it is
/// not one.
mlir::Value buildPaddedConvTile(mlir::OpBuilder &b, mlir::Operation *tile, int64_t lanes,
                                const ZeroPadding &padding);

/// Before scheduling: a reduction over every dimension but the last
/// (out[c] += f(in[..., c])) becomes parallel partial sums over 4..64 chunks
/// of its rows and a small ordered sum of them (Rewrites.cpp).
void splitWideReductions(mlir::ModuleOp module);

/// Profile.cpp: tags every top-level linalg op (on tensors) with its id,
/// description and nominal FLOPs...
void tagProfileOps(mlir::ModuleOp module);
/// The layer an op came from: its NameLoc, possibly inside a FusedLoc or a
/// CallSiteLoc ("" when none).
std::string layerOf(mlir::Location loc);
/// ...and, once bufferized, times each top-level region holding tagged ops
/// with cycle counters in the object; leaves the module attribute
/// `nin.profile` (one line per region: id, function, FLOPs, description).
/// Returns each tagged op's region (nin.prof id -> region).
std::map<int64_t, int64_t> instrumentProfile(mlir::ModuleOp module);
/// The nin.prof id tagProfileOps gave `op` (-1: none).
int64_t profileIdOf(mlir::Operation *op);

} // namespace ninc::cpu::detail

#endif // NINC_COMPILER_CODEGEN_CPU_CPUINTERNAL_H
