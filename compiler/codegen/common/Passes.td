//===- compiler/codegen/common/Passes.td - Passes both targets run -*- tablegen -*-===//
#ifndef NINC_CODEGEN_COMMON_PASSES_TD
#define NINC_CODEGEN_COMMON_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttachTarget : Pass<"ninc-attach-target", "mlir::ModuleOp"> {
  let summary = "Record the Target description on the module (nin.target)";
  let description = [{
    The first code-generation pass: every later pass that needs a fact about
    the hardware (vector width, features, caches, SM version) reads it from
    the module attribute `nin.target` (compiler/target/TargetAttr.h). The
    driver hands the pass the Target it made from the command line; from
    `ninc-opt` the options below make one.

    After (`--ninc-attach-target=cpu=znver3`):
    ```mlir
    module attributes {nin.target = {cpu = "znver3", features = ["avx", "avx2",
        "f16c", "fma", "sse4.2"], kind = "cpu", vector_bytes = 32 : i64, ...}} {
    ```
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"cpu\"", "cpu or cuda">,
    Option<"cpu", "cpu", "std::string", /*default=*/"\"\"",
           "LLVM CPU name (empty: this host)">,
    Option<"gpuArch", "gpu-arch", "std::string", /*default=*/"\"sm_90\"",
           "target=cuda: the SM of the kernels">,
    Option<"gpuEmulate", "gpu-emulate", "bool", /*default=*/"false",
           "target=cuda: the kernels run on this CPU (tests)">,
  ];
}

def PrepareBufferization : Pass<"ninc-prepare-bufferization", "mlir::ModuleOp"> {
  let summary = "Outputs written in place; one accumulator fill per use";
  let description = [{
    Target-independent rewrites before the schedules and one-shot
    bufferization (BufferizationPrep.h): a reshape of a function's output
    moves onto the output memref, so the producer writes straight into it,

    ```mlir
    %r = tensor.expand_shape %x ...
    bufferization.materialize_in_destination %r in restrict writable %out
    // becomes
    %v = memref.collapse_shape %out ...
    bufferization.materialize_in_destination %x in restrict writable %v
    ```

    and a `linalg.fill` that CSE shared between several accumulators is
    cloned before each use, so each accumulator is filled in its own buffer.
  }];
  let dependentDialects = ["mlir::bufferization::BufferizationDialect", "mlir::linalg::LinalgDialect", "mlir::memref::MemRefDialect", "mlir::tensor::TensorDialect"];
}

def RewriteStridedCopies : Pass<"ninc-rewrite-strided-copies", "mlir::ModuleOp"> {
  let summary = "memref.copy of non-contiguous views -> linalg.copy";
  let description = [{
    After bufferization: MLIR lowers a `memref.copy` whose operands are not
    both contiguous to a call of the `memrefCopy` runtime function, which the
    generated object cannot link. Such copies become `linalg.copy` (loops).

    ```mlir
    memref.copy %a, %b : memref<4x8xf32, strided<[16, 1]>> to memref<4x8xf32>
    // becomes
    linalg.copy ins(%a : memref<4x8xf32, strided<[16, 1]>>) outs(%b : memref<4x8xf32>)
    ```
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect"];
}

def PlanMemory : Pass<"ninc-plan-memory", "mlir::ModuleOp"> {
  let summary = "Every function's top-level buffers in one arena argument";
  let description = [{
    Replaces each top-level `memref.alloc` of a function by a view into one
    arena, a new last argument `%arena: memref<?xi8> {nin.arena}`, at an
    offset chosen so that buffers live at the same time never overlap
    (MemoryPlan.h). Sets `nin.arena_bytes` on each function and, the largest,
    on the module. With `report`, prints each function's plan to stderr
    (`ninc compile --memory-plan`).
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Print each function's arena table to stderr">,
  ];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::memref::MemRefDialect"];
}

#endif // NINC_CODEGEN_COMMON_PASSES_TD
