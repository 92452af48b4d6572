//===- compiler/dialect/NinDialect.h - The nin dialect ------------*- C++ -*-===//
#ifndef NINC_COMPILER_DIALECT_NINDIALECT_H
#define NINC_COMPILER_DIALECT_NINDIALECT_H

#include "mlir/IR/Dialect.h"

#include "compiler/dialect/NinDialect.h.inc"

#endif // NINC_COMPILER_DIALECT_NINDIALECT_H
