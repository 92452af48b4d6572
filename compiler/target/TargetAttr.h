//===- compiler/target/TargetAttr.h - The Target on the module -*- C++ -*-===//
//
// The Target description as the module attribute `nin.target` (a dictionary),
// set by the pass ninc-attach-target at the start of code generation and
// read back by any later pass that needs a fact about the hardware.
//
//   module attributes {nin.target = {kind = "cpu", triple = "x86_64-pc-linux-gnu",
//       cpu = "znver3", features = ["avx", "avx2", "fma", ...], vector_bytes = 32,
//       vector_registers = 16, l1d_bytes = 32768, l2_bytes = 524288,
//       l3_bytes_per_core = 4194304, fma_units = 2, ...}}
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_TARGET_TARGETATTR_H
#define NINC_COMPILER_TARGET_TARGETATTR_H

#include "compiler/target/Target.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"

namespace ninc {

/// `target` as a dictionary attribute.
mlir::DictionaryAttr targetToAttr(mlir::MLIRContext *ctx, const Target &target);

/// The Target a dictionary made by targetToAttr describes.
Expected<Target> targetFromAttr(mlir::DictionaryAttr attr);

/// Sets `nin.target` on `module`.
void attachTarget(mlir::ModuleOp module, const Target &target);

/// The Target attached to `module`; an error naming the missing attribute
/// when no ninc-attach-target ran.
Expected<Target> targetOf(mlir::ModuleOp module);

} // namespace ninc

#endif // NINC_COMPILER_TARGET_TARGETATTR_H
