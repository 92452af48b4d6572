//===- passes/Passes.h - Graph passes on the nin dialect ----------*- C++ -*-===//
#ifndef NINC_PASSES_PASSES_H
#define NINC_PASSES_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace ninc {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace ninc

#endif // NINC_PASSES_PASSES_H
