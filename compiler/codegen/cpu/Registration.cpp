//===- compiler/codegen/cpu/Registration.cpp - Dialects the CPU target uses ===//
//
// The common code-generation dialects (common/Registration.cpp) plus what only
// the CPU target needs: the memory effects of the x86 intrinsics its bf16
// tiles call.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cpu/CpuCodegen.h"
#include "compiler/codegen/common/Registration.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace ninc::cpu {

namespace {

/// llvm.call_intrinsic declares no memory effects, so the buffer
/// deallocation pipeline refuses functions holding one. The x86 dot-product
/// intrinsics the bf16 tiles call (Bf16.cpp) only compute on registers: no
/// effects; any other intrinsic conservatively reads and writes memory.
struct IntrinsicEffects
    : mlir::MemoryEffectOpInterface::ExternalModel<IntrinsicEffects,
                                                   mlir::LLVM::CallIntrinsicOp> {
  void getEffects(mlir::Operation *op,
                  llvm::SmallVectorImpl<mlir::SideEffects::EffectInstance<
                      mlir::MemoryEffects::Effect>> &effects) const {
    llvm::StringRef name = llvm::cast<mlir::LLVM::CallIntrinsicOp>(op).getIntrin();
    if (name.starts_with("llvm.x86.avx512bf16.dpbf16ps"))
      return;
    effects.emplace_back(mlir::MemoryEffects::Read::get());
    effects.emplace_back(mlir::MemoryEffects::Write::get());
  }
};

} // namespace

void registerCpuCodegenDialects(mlir::DialectRegistry &registry) {
  using namespace mlir;
  codegen::registerCodegenDialects(registry);
  registry.addExtension(+[](MLIRContext *ctx, LLVM::LLVMDialect *) {
    LLVM::CallIntrinsicOp::attachInterface<IntrinsicEffects>(*ctx);
  });
}

} // namespace ninc::cpu
