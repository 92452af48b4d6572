//===- compiler/pipeline/Dot.h - The fused graph for Graphviz -----*- C++ -*-===//
#ifndef NINC_COMPILER_PIPELINE_DOT_H
#define NINC_COMPILER_PIPELINE_DOT_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace ninc {

/// Writes each function of a `nin` module (after the graph passes) as a
/// Graphviz digraph: one box per op with its layer names and output shape,
/// parameters folded into the op's label (`dot -Tsvg nin.dot -o nin.svg`).
void printDot(mlir::ModuleOp module, llvm::raw_ostream &os);

} // namespace ninc

#endif // NINC_COMPILER_PIPELINE_DOT_H
