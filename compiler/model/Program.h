//===- compiler/model/Program.h - A model's runtime descriptor ----*- C++ -*-===//
//
// What a compiled program tells its runtime about the model it was compiled
// from (runtime/program/Descriptor.h): shapes, recipe and the weights blob
// layout, by rt::layoutBlob: the one rule the nin-to-linalg conversion also
// follows (its `nin.params` table).
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_MODEL_PROGRAM_H
#define NINC_COMPILER_MODEL_PROGRAM_H

#include "compiler/model/Model.h"
#include "runtime/program/Descriptor.h"

namespace ninc {

/// The descriptor of `model` compiled for `batch` images: shapes, classes,
/// the training recipe, and the blob layout of parameterList(model).
rt::ModelDescriptor describeModel(const Model &model, int64_t batch);

} // namespace ninc

#endif // NINC_COMPILER_MODEL_PROGRAM_H
