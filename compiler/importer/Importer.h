//===- compiler/importer/Importer.h - Model -> nin dialect --------*- C++ -*-===//
//
// Turns a validated ninc::Model into a module with one function in the `nin`
// dialect. Weights become function arguments (named by `nin.param` argument
// attributes, in parameterList order) so the same graph serves inference and,
// later, training. Result types are left unranked where they depend on the
// shape rules: `nin-infer-shapes` computes them from the input shape alone.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_IMPORTER_IMPORTER_H
#define NINC_COMPILER_IMPORTER_IMPORTER_H

#include "compiler/model/Model.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace ninc {

struct ImportOptions {
  int64_t batch = 1;         ///< Static batch size of the function's input.
  bool training = false;     ///< Keep dropout active (training graphs).
};

/// Builds `func.func @<model.name>_infer(%input, %params...) -> logits`.
/// Layer names become NameLoc locations, so diagnostics and dumps point back
/// to the spec.
mlir::OwningOpRef<mlir::ModuleOp> importModel(mlir::MLIRContext &ctx, const Model &model,
                                              const ImportOptions &options);

} // namespace ninc

#endif // NINC_COMPILER_IMPORTER_IMPORTER_H
