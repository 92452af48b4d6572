//===- runtime/program/Checkpoint.cpp - Saving and resuming training ------===//

#include "runtime/program/Checkpoint.h"
#include "runtime/program/Weights.h"
#include "runtime/support/Fault.h"

#include <zlib.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <sstream>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "model and state files are written in host byte order, little-endian");

namespace ninc::rt {

namespace {

constexpr char kStateMagic[8] = {'N', 'I', 'N', 'C', 'S', 'T', 'A', 'T'};
constexpr uint32_t kStateVersion = 2;
constexpr size_t kPartialBytes = 5 * 8; // version 2's partial-epoch block
/// Bytes of the fixed part: magic .. history count.
constexpr size_t kStateHeaderBytes = 8 + 4 + 4 + 5 * 8 + 3 * 4 + 4 + 8 + 8;
constexpr size_t kHistoryRecordBytes = 8 + 5 * 8;

uint32_t crc32Of(const void *data, size_t bytes, uint32_t crc = 0) {
  return uint32_t(crc32_z(crc, static_cast<const Bytef *>(data), bytes));
}

/// CRC-32 of the parameters of `blob` (padding between slots excluded).
uint32_t parameterCrc(const ModelDescriptor &d, const float *blob) {
  uint32_t crc = 0;
  for (const ParamSlot &slot : d.params)
    crc = crc32Of(blob + slot.offset, sizeof(float) * slot.numel(), crc);
  return crc;
}

//===----------------------------------------------------------------------===//
// Protobuf wire format (only what Model.weights needs)
//===----------------------------------------------------------------------===//

void putVarint(std::string &out, uint64_t v) {
  for (; v >= 0x80; v >>= 7)
    out += char(uint8_t(v) | 0x80);
  out += char(uint8_t(v));
}

/// A length-delimited field (wire type 2).
void putBytesField(std::string &out, uint32_t number, std::string_view bytes) {
  putVarint(out, uint64_t(number) << 3 | 2);
  putVarint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}

std::string encodeTensor(const std::string &name, const std::vector<int64_t> &shape,
                         const std::vector<float> &data) {
  std::string dims, tensor;
  for (int64_t v : shape)
    putVarint(dims, uint64_t(v));
  putBytesField(tensor, 1, name);
  putBytesField(tensor, 2, dims);
  putBytesField(tensor, 3,
                std::string_view(reinterpret_cast<const char *>(data.data()),
                                 data.size() * sizeof(float)));
  return tensor;
}

//===----------------------------------------------------------------------===//
// The state file
//===----------------------------------------------------------------------===//

template <typename T> void put(std::string &out, const T &v) {
  out.append(reinterpret_cast<const char *>(&v), sizeof v);
}

/// Bounds-checked reads of fixed-size fields (sizes are checked up front).
class StateReader {
public:
  explicit StateReader(const std::string &bytes) : p_(bytes.data()) {}
  template <typename T> T get() {
    T v;
    std::memcpy(&v, p_, sizeof v);
    p_ += sizeof v;
    return v;
  }
  void floats(std::vector<float> &v, uint64_t n) {
    v.resize(n);
    if (n) // an empty vector's data() may be null
      std::memcpy(v.data(), p_, n * sizeof(float));
    p_ += n * sizeof(float);
  }

private:
  const char *p_;
};

std::string encodeState(const TrainState &s, uint32_t weightsCrc) {
  std::string out(kStateMagic, sizeof kStateMagic);
  put(out, kStateVersion);
  put(out, uint32_t(0));
  for (uint64_t v : {s.epochsDone, s.steps, s.seed, uint64_t(s.batch), uint64_t(s.trainImages)})
    put(out, v);
  for (float v : {s.learningRate, s.momentum, s.weightDecay})
    put(out, v);
  put(out, weightsCrc);
  put(out, uint64_t(s.velocity.size()));
  put(out, uint64_t(s.history.size()));
  out.append(reinterpret_cast<const char *>(s.velocity.data()),
             s.velocity.size() * sizeof(float));
  for (const EpochMetrics &m : s.history) {
    put(out, uint64_t(m.epoch));
    for (double v : {m.loss, m.trainAccuracy, m.testAccuracy, m.seconds, m.imagesPerSecond})
      put(out, v);
  }
  put(out, s.partial.batches);
  put(out, s.partial.lossSum);
  put(out, s.partial.correct);
  put(out, s.partial.seen);
  put(out, s.partial.seconds);
  put(out, crc32Of(out.data(), out.size()));
  return out;
}

Expected<std::string> readFile(const std::string &path, const std::string &what) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error{path + ": error: cannot open " + what + ": " + std::strerror(errno)};
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

/// Parses a state file's bytes; `weightsCrc` receives the stored parameter CRC.
Expected<TrainState> decodeState(const std::string &path, const std::string &bytes,
                                 uint32_t &weightsCrc) {
  auto fail = [&](const std::string &what) {
    return Error{path + ": error: " + what + " (the file is damaged; resume from another "
                 "checkpoint or start again)"};
  };
  if (bytes.size() >= sizeof kStateMagic &&
      std::memcmp(bytes.data(), kStateMagic, sizeof kStateMagic) != 0)
    return Error{path + ": error: expected a ninc training state (magic \"NINCSTAT\"), found "
                 "other bytes"};
  if (bytes.size() < kStateHeaderBytes + 4)
    return fail("truncated training state: " + std::to_string(bytes.size()) +
                " bytes, shorter than its header");
  StateReader r(bytes);
  r.get<std::array<char, 8>>();
  const uint32_t version = r.get<uint32_t>();
  if (version != 1 && version != kStateVersion)
    return Error{path + ": error: expected training state version 1 or " +
                 std::to_string(kStateVersion) + ", found version " + std::to_string(version)};
  const size_t tail = version >= 2 ? kPartialBytes : 0;
  if (bytes.size() < kStateHeaderBytes + tail + 4)
    return fail("truncated training state: " + std::to_string(bytes.size()) +
                " bytes, shorter than its header");
  r.get<uint32_t>();
  TrainState s;
  s.epochsDone = r.get<uint64_t>();
  s.steps = r.get<uint64_t>();
  s.seed = r.get<uint64_t>();
  s.batch = int64_t(r.get<uint64_t>());
  s.trainImages = int64_t(r.get<uint64_t>());
  s.learningRate = r.get<float>();
  s.momentum = r.get<float>();
  s.weightDecay = r.get<float>();
  weightsCrc = r.get<uint32_t>();
  const uint64_t velocity = r.get<uint64_t>(), history = r.get<uint64_t>();
  const uint64_t room = bytes.size() - kStateHeaderBytes - tail - 4;
  if (velocity > room / sizeof(float) || history > room / kHistoryRecordBytes ||
      velocity * sizeof(float) + history * kHistoryRecordBytes > room)
    return fail("truncated training state: " + std::to_string(bytes.size()) +
                " bytes, fewer than its header announces");
  if (velocity * sizeof(float) + history * kHistoryRecordBytes != room)
    return fail("training state has bytes after its end");
  uint32_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 4, 4);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION // lets fuzzed bytes past it
  if (stored != crc32Of(bytes.data(), bytes.size() - 4))
    return fail("training state is corrupt: checksum mismatch");
#endif
  r.floats(s.velocity, velocity);
  s.history.resize(history);
  for (EpochMetrics &m : s.history) {
    m.epoch = int64_t(r.get<uint64_t>());
    m.loss = r.get<double>();
    m.trainAccuracy = r.get<double>();
    m.testAccuracy = r.get<double>();
    m.seconds = r.get<double>();
    m.imagesPerSecond = r.get<double>();
  }
  if (version >= 2) {
    s.partial.batches = r.get<uint64_t>();
    s.partial.lossSum = r.get<double>();
    s.partial.correct = r.get<uint64_t>();
    s.partial.seen = r.get<uint64_t>();
    s.partial.seconds = r.get<double>();
  }
  return s;
}

//===----------------------------------------------------------------------===//
// Atomic writes
//===----------------------------------------------------------------------===//

/// Writes `bytes` to a fresh temporary file beside `path` and fsyncs it;
/// returns the temporary's name. On failure nothing is left behind.
Expected<std::string> writeTemporary(const std::string &path, const std::string &bytes,
                                     const std::string &what) {
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0)
    return Error{path + ": error: cannot write " + what + ": " + std::strerror(errno)};
  ::fchmod(fd, 0644);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    done += size_t(n);
  }
  bool ok = done == bytes.size() && ::fsync(fd) == 0;
  int err = errno;
  ok = ::close(fd) == 0 && ok;
  if (!ok) {
    ::unlink(tmp.c_str());
    return Error{path + ": error: cannot write " + what + ": " + std::strerror(err ? err : EIO)};
  }
  return tmp;
}

/// Renames a temporary written by writeTemporary into place and syncs the
/// folder so the rename itself survives a crash.
Status commitTemporary(const std::string &tmp, const std::string &path, const std::string &what) {
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Error{path + ": error: cannot write " + what + ": " + why};
  }
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  if (int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  return Status::ok();
}

} // namespace

std::string statePath(const std::string &checkpoint) { return checkpoint + ".state"; }

bool allFinite(const std::vector<float> &values) {
  for (float v : values)
    if (!std::isfinite(v))
      return false;
  return true;
}

Status writeFileAtomically(const std::string &path, const std::string &bytes,
                           const std::string &what) {
  Expected<std::string> tmp = writeTemporary(path, bytes, what);
  if (!tmp)
    return tmp.error();
  return commitTemporary(*tmp, path, what);
}

std::string encodeModelFile(std::string_view specBytes, const ModelDescriptor &d,
                            const float *blob) {
  std::string out(specBytes);
  std::vector<float> spec;
  for (const ParamSlot &slot : d.params) {
    spec.resize(slot.numel());
    unpackParam(slot, blob, spec.data());
    putBytesField(out, 5, encodeTensor(slot.name, slot.shape, spec));
  }
  return out;
}

namespace {

/// The previous checkpoint, kept while a new one is committed.
std::string previousPath(const std::string &path) { return path + ".prev"; }

/// Removes the temporaries of `path` a killed run left (path.tmp.XXXXXX).
void removeStaleTemporaries(const std::string &path) {
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  const std::string prefix = (slash == std::string::npos ? path : path.substr(slash + 1)) + ".tmp.";
  DIR *d = ::opendir(dir.c_str());
  if (!d)
    return;
  while (const dirent *e = ::readdir(d))
    if (std::strncmp(e->d_name, prefix.c_str(), prefix.size()) == 0 &&
        std::strlen(e->d_name) == prefix.size() + 6)
      ::unlink((dir + "/" + e->d_name).c_str());
  ::closedir(d);
}

/// link(2) `from` to `to`, replacing `to`; true when `from` exists and
/// the link was made.
bool linkReplacing(const std::string &from, const std::string &to) {
  ::unlink(to.c_str());
  return ::link(from.c_str(), to.c_str()) == 0;
}

} // namespace

Status saveCheckpoint(const std::string &path, std::string_view specBytes,
                      const ModelDescriptor &d, const std::vector<float> &weights,
                      const TrainState &state) {
  if (int64_t(weights.size()) != d.blobSize || !allFinite(weights))
    return Error{path + ": error: refusing to write a checkpoint with " +
                 (allFinite(weights) ? "a weights blob of the wrong size" : "non-finite weights")};
  const std::string model = "checkpoint", sidecar = "training state";
  const std::string stateFile = statePath(path);
  removeStaleTemporaries(path);
  removeStaleTemporaries(stateFile);
  Expected<std::string> modelTmp =
      writeTemporary(path, encodeModelFile(specBytes, d, weights.data()), model);
  if (!modelTmp)
    return modelTmp.error();
  Expected<std::string> stateTmp =
      writeTemporary(stateFile, encodeState(state, parameterCrc(d, weights.data())), sidecar);
  if (!stateTmp) {
    ::unlink(modelTmp->c_str());
    return stateTmp.error();
  }
  faultPoint("checkpoint-written");
  // Two renames are not one atomic step: the current pair stays readable as
  // PATH.prev + PATH.prev.state (hard links) until both new files are in
  // place, and loadCheckpoint falls back to it when a crash came between the
  // renames. The state goes first, so a first checkpoint cut short leaves no
  // model file, i.e. nothing to resume.
  const std::string prev = previousPath(path);
  bool keptPrevious = linkReplacing(path, prev);
  if (keptPrevious && !linkReplacing(stateFile, statePath(prev))) {
    ::unlink(prev.c_str()); // a model file without a state: nothing to keep
    keptPrevious = false;
  }
  if (Status s = commitTemporary(*stateTmp, stateFile, sidecar); !s) {
    ::unlink(modelTmp->c_str());
    return s;
  }
  faultPoint("checkpoint-state");
  if (Status s = commitTemporary(*modelTmp, path, model); !s)
    return s;
  faultPoint("checkpoint-committed");
  if (keptPrevious) {
    ::unlink(statePath(prev).c_str());
    ::unlink(prev.c_str());
  }
  return Status::ok();
}

namespace {

Expected<Checkpoint> loadPair(const std::string &path, const ModelDescriptor &d) {
  Expected<std::vector<float>> weights = loadWeights(path, d);
  if (!weights)
    return weights.error();
  const std::string stateFile = statePath(path);
  Expected<std::string> bytes = readFile(stateFile, "training state");
  if (!bytes)
    return Error{bytes.message() + " (--resume needs the .state file written beside each "
                 "checkpoint)"};
  uint32_t weightsCrc = 0;
  Expected<TrainState> state = decodeState(stateFile, *bytes, weightsCrc);
  if (!state)
    return state.error();
  if (int64_t(state->velocity.size()) != d.blobSize)
    return Error{stateFile + ": error: expected a velocity of " + std::to_string(d.blobSize) +
                 " floats for model '" + d.model + "', found " +
                 std::to_string(state->velocity.size()) + " (a checkpoint of another model?)"};
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION // lets fuzzed bytes past it
  if (weightsCrc != parameterCrc(d, weights->data()))
    return Error{stateFile + ": error: the training state does not belong to the weights in " +
                 path + " (files of different runs or epochs)"};
#endif
  return Checkpoint{std::move(*weights), std::move(*state), path, ""};
}

} // namespace

Expected<Checkpoint> loadCheckpoint(const std::string &path, const ModelDescriptor &d) {
  Expected<Checkpoint> ck = loadPair(path, d);
  if (ck)
    return ck;
  // A crash between the two renames of saveCheckpoint: the pair before it.
  const std::string prev = previousPath(path);
  if (::access(prev.c_str(), F_OK) != 0)
    return ck;
  Expected<Checkpoint> older = loadPair(prev, d);
  if (!older)
    return ck;
  older->note = path + " and its state do not match (" + ck.message() +
                "), as after a crash while it was written; resuming from the checkpoint "
                "before it, " + prev;
  return older;
}

} // namespace ninc::rt
