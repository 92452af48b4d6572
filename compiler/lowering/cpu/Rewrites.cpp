//===- compiler/lowering/cpu/Rewrites.cpp - IR fixups around bufferization ===//
//
// After bufferization: strided copies without MLIR's runtime library. (The
// rewrites before it, shared with the CUDA backend, are in
// compiler/lowering/BufferizationPrep.cpp.)
//
//===----------------------------------------------------------------------===//
#include "compiler/lowering/cpu/CpuInternal.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/SmallVector.h"

using namespace mlir;

namespace ninc::cpu::detail {

void rewriteStridedCopies(ModuleOp module) {
  llvm::SmallVector<memref::CopyOp> copies;
  module.walk([&](memref::CopyOp copy) {
    auto source = cast<MemRefType>(copy.getSource().getType());
    auto target = cast<MemRefType>(copy.getTarget().getType());
    if (!memref::isStaticShapeAndContiguousRowMajor(source) ||
        !memref::isStaticShapeAndContiguousRowMajor(target))
      copies.push_back(copy);
  });
  for (memref::CopyOp copy : copies) {
    OpBuilder b(copy);
    b.create<linalg::CopyOp>(copy.getLoc(), copy.getSource(), copy.getTarget());
    copy.erase();
  }
}

} // namespace ninc::cpu::detail
