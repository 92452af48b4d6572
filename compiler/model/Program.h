//===- compiler/model/Program.h - A model's runtime descriptor ----*- C++ -*-===//
//
// What a compiled program tells its runtime about the model it was compiled
// from (runtime/program/Descriptor.h): shapes, recipe and the weights blob
// layout. The layout rule lives here once: parameters in canonical order, conv
// weights repacked HWCF, each at a 16-float (64-byte) aligned offset. The
// nin-to-linalg lowering emits exactly this layout (its `nin.params` table).
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_MODEL_PROGRAM_H
#define NINC_COMPILER_MODEL_PROGRAM_H

#include "compiler/model/Model.h"
#include "runtime/program/Descriptor.h"

namespace ninc {

/// Alignment of each parameter in the weights blob, in floats.
constexpr int64_t kParamAlignFloats = 16;

/// `n` rounded up to the parameter alignment.
inline int64_t alignParam(int64_t n) {
  return (n + kParamAlignFloats - 1) / kParamAlignFloats * kParamAlignFloats;
}

/// The descriptor of `model` compiled for `batch` images: shapes, classes,
/// the training recipe, and the blob layout of parameterList(model).
rt::ModelDescriptor describeModel(const Model &model, int64_t batch);

} // namespace ninc

#endif // NINC_COMPILER_MODEL_PROGRAM_H
