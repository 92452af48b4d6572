//===- compiler/codegen/common/Registration.h - Dialects codegen uses -*- C++ -*-===//
#ifndef NINC_COMPILER_CODEGEN_COMMON_REGISTRATION_H
#define NINC_COMPILER_CODEGEN_COMMON_REGISTRATION_H

namespace mlir {
class DialectRegistry;
}

namespace ninc::codegen {

/// The dialects, interfaces, transform extensions and LLVM IR translations
/// both targets use, from linalg on tensors to the llvm dialect (with
/// OpenMP). A target's registration adds its own to these.
void registerCodegenDialects(mlir::DialectRegistry &registry);

} // namespace ninc::codegen

#endif // NINC_COMPILER_CODEGEN_COMMON_REGISTRATION_H
