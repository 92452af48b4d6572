//===- runtime/program/Generated.h - What the generated object provides -*- C++ -*-===//
//
// The symbols `ninc compile` puts in a program's object (Compile.cpp's
// addProgramSymbols), as main() and the bench see them; the optional ones
// are weak, so every object links.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_RUNTIME_PROGRAM_GENERATED_H
#define NINC_RUNTIME_PROGRAM_GENERATED_H

#include "runtime/program/Descriptor.h"

#include <cstdint>

extern "C" {
/// Generated: logits[batch, classes] of input[batch, C, H, W] (NCHW), with
/// intermediates in `arena` (descriptor's arena bytes, 64-byte aligned).
/// The CPU code keeps the weights' packed filters at the arena's start:
/// `repack` nonzero packs them (the first call, new weights, or an arena
/// another function used since); 0 reuses what the last call with this
/// arena and these weights left there.
void ninc_infer(const float *input, const float *weights, float *logits, uint8_t *arena,
                int32_t repack);
/// Generated: the model descriptor (runtime/program/Descriptor.h).
extern const char ninc_descriptor[];
/// Generated with --mode=train (else null): one SGD step on a batch, the
/// contract of rt::TrainBackend::step, scratch in `arena` (train_arena bytes).
/// CPU steps call ninc_grad_sync (runtime/distributed/GradSync.h) between
/// the backward and the update.
__attribute__((weak)) void ninc_train_step(const float *input, const int32_t *labels,
                                           float *weights, float *velocity, const float *hyper,
                                           uint64_t seed, uint64_t step, uint64_t firstImage,
                                           float *loss, float *logits, uint8_t *arena);
/// The spec as binary protobuf, without weights, for self-contained
/// checkpoints (null in objects of older ninc versions).
__attribute__((weak)) extern const unsigned char ninc_spec[];
__attribute__((weak)) extern const uint64_t ninc_spec_size;
/// CPU programs: the regions compiler/codegen/cpu/Profile.cpp instrumented
/// (absent in CUDA programs and old objects).
__attribute__((weak)) extern int32_t ninc_prof_enabled[];
__attribute__((weak)) extern uint64_t ninc_prof_cycles[];
__attribute__((weak)) extern const char ninc_profile_table[];
/// CUDA programs (runtime/cuda): the device named in the result lines
/// ("cuda"); null in CPU programs.
__attribute__((weak)) const char *ninc_device_name();
/// CUDA programs (runtime/cuda/DeviceInfer.cpp), null in CPU programs: the
/// promise that lets the GPU keep weights and velocities between calls
/// (host buffers change only through ninc_train_step and are synced before
/// they are read after a step; DeviceInfer.cpp has the rules), and the sync.
__attribute__((weak)) void ninc_device_keep_weights();
__attribute__((weak)) void ninc_device_sync_weights();
}


namespace ninc::rt {

/// Whether the generated object can train (it was compiled with --mode=train).
inline bool programCanTrain(const ModelDescriptor &d) {
  return ninc_train_step && ninc_spec && &ninc_spec_size && d.trainArenaBytes > 0;
}

} // namespace ninc::rt

#endif // NINC_RUNTIME_PROGRAM_GENERATED_H
