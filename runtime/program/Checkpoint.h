//===- runtime/program/Checkpoint.h - Saving and resuming training -*- C++ -*-===//
//
// `out/nin train --checkpoint FILE` writes, after every epoch, two files:
//
// FILE: a self-contained binary model file (.pb) that `ninc inspect`,
//   `ninc run --weights` and `out/nin infer --weights` read. It is the bytes
//   of the spec the program was compiled from (`ninc_spec`: a serialized
//   ninc.spec.Model without weights) followed by one `weights` field per
//   parameter, in descriptor (= canonical) order. Protobuf merges
//   concatenated messages, so this is the spec with its weights filled in:
//     weights (field 5, LEN) = Tensor {
//       1: name (string), 2: shape (packed int64 varints),
//       3: data (packed float32, little-endian) }
//   Values are in the spec's layout (OIHW for conv weights), unpacked from
//   the blob with unpackParam.
//
// FILE.state: what an exact resume needs beyond the weights. Binary,
//   little-endian, fixed-size fields in this order:
//     char[8]  magic "NINCSTAT"
//     u32      version (2; version 1, without the last block, still reads)
//     u32      reserved (0)
//     u64      epochs done        u64  steps done (global dropout counter)
//     u64      seed               u64  batch
//     u64      training images per epoch (after --train-limit)
//     f32      learning rate, momentum, weight decay (of the run that wrote it)
//     u32      CRC-32 of the parameters in FILE (each descriptor slot's
//              numel() floats of the blob, in slot order)
//     u64      V: floats of velocity (= the descriptor's blob size)
//     u64      H: epochs of history
//     f32[V]   velocity, in the blob's layout
//     H x {u64 epoch; f64 loss, train acc, test acc, seconds, images/s}
//     u64 batches, f64 loss sum, u64 correct, u64 images, f64 seconds: the
//              epoch after the last whole one, as far as a stop (SIGINT,
//              SIGTERM) left it (batches 0: none)
//     u32      CRC-32 (zlib) of every byte before it
//   The parameter CRC ties the state to its model file: a crash between the
//   two renames, or files of different runs, are reported, not resumed.
//
// Both files are written atomically: each goes to a temporary file in the
// same folder, is fsync'ed, and only when both are complete are they renamed
// into place (state first), so a failure leaves the previous checkpoint as it
// was and no partial file. While the two renames happen, the previous pair
// stays readable as FILE.prev and FILE.prev.state (hard links, removed
// after), and loadCheckpoint reads it when a crash came between the renames.
// Temporaries a killed run left are removed by the next save.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_PROGRAM_CHECKPOINT_H
#define NINC_RUNTIME_PROGRAM_CHECKPOINT_H

#include "runtime/program/Descriptor.h"
#include "runtime/support/Error.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ninc::rt {

/// What one epoch of training measured (one line of the chapter's output).
struct EpochMetrics {
  int64_t epoch = 0;            ///< 1-based.
  double loss = 0;              ///< Mean cross-entropy over the epoch's images.
  double trainAccuracy = 0;     ///< On the training batches, dropout active.
  double testAccuracy = 0;      ///< On the (limited) test set, after the epoch.
  double seconds = 0;           ///< Wall time of the epoch, evaluation included.
  double imagesPerSecond = 0;   ///< Training images / time spent in train steps.
};

/// The training state stored beside a checkpoint's weights.
struct TrainState {
  uint64_t epochsDone = 0;
  uint64_t steps = 0;           ///< Train steps done so far (the dropout step counter).
  uint64_t seed = 0;
  int64_t batch = 0;
  int64_t trainImages = 0;      ///< Training images used per epoch.
  float learningRate = 0, momentum = 0, weightDecay = 0;
  std::vector<float> velocity;  ///< The blob's layout, blobSize floats.
  std::vector<EpochMetrics> history;
  /// An epoch stopped midway (SIGINT / SIGTERM): its batches done and the
  /// sums its line is made of, so a resume finishes it exactly.
  struct Partial {
    uint64_t batches = 0;
    double lossSum = 0;
    uint64_t correct = 0, seen = 0;
    double seconds = 0;
  } partial;
};

/// Weights and training state read back from a checkpoint.
struct Checkpoint {
  std::vector<float> weights;   ///< The blob, as rt::loadWeights returns it.
  TrainState state;
  std::string from;             ///< The file read: the path, or path.prev.
  std::string note;             ///< Why path.prev was read instead ("": it was not).
};

/// The sidecar of a checkpoint: "FILE.state".
std::string statePath(const std::string &checkpoint);

/// True if every value is finite (what a checkpoint may hold).
bool allFinite(const std::vector<float> &values);

/// Writes `bytes` to `path` atomically (temporary file in the same folder,
/// fsync, rename). `what` names the file's kind in errors ("metrics file").
Status writeFileAtomically(const std::string &path, const std::string &bytes,
                           const std::string &what);

/// The self-contained model file: `specBytes` then the blob's parameters as
/// `weights` fields, in spec layout.
std::string encodeModelFile(std::string_view specBytes, const ModelDescriptor &d,
                            const float *blob);

/// Writes the checkpoint `path` and its state `path.state` (see the file
/// comment); `weights` must be finite. Both files or neither are replaced.
Status saveCheckpoint(const std::string &path, std::string_view specBytes,
                      const ModelDescriptor &d, const std::vector<float> &weights,
                      const TrainState &state);

/// Reads a checkpoint and its state. Errors name the file: a missing,
/// truncated or corrupt state, or one that does not belong to the weights.
/// When the pair does not match but the previous pair saveCheckpoint keeps
/// while committing (path.prev, path.prev.state) does, that one is returned
/// with a note: a crash between the two renames costs one epoch, not the run.
Expected<Checkpoint> loadCheckpoint(const std::string &path, const ModelDescriptor &d);

} // namespace ninc::rt

#endif // NINC_RUNTIME_PROGRAM_CHECKPOINT_H
