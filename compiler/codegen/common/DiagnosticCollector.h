//===- compiler/codegen/common/DiagnosticCollector.h - Diagnostics -> Error -*- C++ -*-===//
//
// While alive, collects the MLIR context's diagnostics (with their notes and
// locations), so a failed pass or transform becomes one Error naming the
// backend and what MLIR said.
//
//===----------------------------------------------------------------------===//
#ifndef NINC_COMPILER_CODEGEN_COMMON_DIAGNOSTICCOLLECTOR_H
#define NINC_COMPILER_CODEGEN_COMMON_DIAGNOSTICCOLLECTOR_H

#include "runtime/support/Error.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace ninc {

class DiagnosticCollector {
public:
  /// `backend` prefixes every message ("cpu backend").
  DiagnosticCollector(mlir::MLIRContext *ctx, std::string backend)
      : backend_(std::move(backend)), handler_(ctx, [this](mlir::Diagnostic &diag) {
          append(diag);
          for (mlir::Diagnostic &note : diag.getNotes())
            append(note);
          return mlir::success();
        }) {}

  Error error(const std::string &what) const {
    return Error{backend_ + ": " + what + (text_.empty() ? "" : ":\n" + text_)};
  }

private:
  void append(mlir::Diagnostic &diag) {
    std::string loc;
    llvm::raw_string_ostream os(loc);
    os << diag.getLocation();
    text_ += os.str() + ": " + diag.str() + "\n";
  }

  std::string backend_, text_;
  mlir::ScopedDiagnosticHandler handler_;
};

} // namespace ninc

#endif // NINC_COMPILER_CODEGEN_COMMON_DIAGNOSTICCOLLECTOR_H
