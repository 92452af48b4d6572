//===- compiler/dialect/NinOps.h - Operations of the nin dialect --*- C++ -*-===//
#ifndef NINC_COMPILER_DIALECT_NINOPS_H
#define NINC_COMPILER_DIALECT_NINOPS_H

#include "compiler/dialect/NinDialect.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "compiler/dialect/NinOps.h.inc"

#endif // NINC_COMPILER_DIALECT_NINOPS_H
