//===- compiler/codegen/cpu/Passes.td - The CPU target's passes -*- tablegen -*-===//
#ifndef NINC_CODEGEN_CPU_PASSES_TD
#define NINC_CODEGEN_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def CpuBf16Inputs : Pass<"ninc-cpu-bf16-inputs", "mlir::ModuleOp"> {
  let summary = "Round the inputs of eligible convs and matmuls to bf16 (--precision=bf16)";
  let description = [{
    Every conv_2d_nhwc_hwcf and matmul whose reduction channels come in pairs
    and whose register tile fills whole zmm registers (not those tagged
    nin.weight_grad) gets its input rounded to bf16 once - by its producer
    when that is a transpose or elementwise op used only there, otherwise by
    one elementwise op - and is tagged `ninc.bf16` for the schedule, which
    computes it with vdpbf16ps (Bf16.cpp). Fails when the module's target
    (nin.target) lacks AVX512-BF16.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::linalg::LinalgDialect", "mlir::tensor::TensorDialect"];
}

def CpuSplitWideReductions : Pass<"ninc-cpu-split-wide-reductions", "mlir::ModuleOp"> {
  let summary = "Reductions over all but the last dim -> parallel partial sums";
  let description = [{
    `out[c] += f(in[..., c])` (the bias gradients) has no parallel outer loop;
    it becomes partial sums over 4..64 chunks of its rows, parallel over the
    chunks, and a small ordered sum of them (the result depends on the chunk
    count only, not on the threads).

    ```mlir
    linalg.generic {iterator_types = ["reduction", "reduction", "reduction", "parallel"]}
        ins(%dy : tensor<128x54x54x96xf32>) outs(%db : tensor<96xf32>)
    // becomes
    linalg.generic {iterator_types = ["parallel", "reduction", "parallel"]}
        ins(%dy_rows : tensor<64x5832x96xf32>) outs(%part : tensor<64x96xf32>)
    linalg.generic {iterator_types = ["reduction", "parallel"]}
        ins(%part : tensor<64x96xf32>) outs(%db : tensor<96xf32>)
    ```
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::linalg::LinalgDialect", "mlir::tensor::TensorDialect"];
}

def CpuTagProfile : Pass<"ninc-cpu-tag-profile", "mlir::ModuleOp"> {
  let summary = "Tag every top-level linalg op with its id, layer and FLOPs";
  let description = [{
    The first half of `bench --profile` (Profile.cpp): `nin.prof`,
    `nin.prof_name` and `nin.prof_flops` on every top-level linalg op, so
    the regions made after bufferization can be named and their GFLOP/s
    computed. Tiling copies the tags onto the tiles.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect"];
}

def CpuSchedule : Pass<"ninc-cpu-schedule", "mlir::ModuleOp"> {
  let summary = "Tile, fuse, pack, vectorise and bufferize with transform scripts";
  let description = [{
    Plans each linalg op's schedule from its static shapes (Schedule.cpp) and
    applies it in two transform scripts run by the transform interpreter,
    with the operand packing (PackOperands.cpp, and the bf16 and multi-row
    register tiles) in C++ between them: convs and matmuls with their fill
    and bias/ReLU consumer fused into register tiles under an scf.forall over
    the batch, every other op in vector rows; then vectorization, one-shot
    bufferization and vector lowering. The profile regions are marked
    between the two scripts. With `report`, prints each op's plan to stderr
    (`ninc compile --schedule-report`).
  }];
  let options = [
    Option<"threads", "threads", "int", /*default=*/"2",
           "Threads the foralls are split for">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Print the schedule of each op to stderr">,
    Option<"keepPackedWeights", "keep-packed-weights", "bool", /*default=*/"true",
           "Inference: pack the weights' filters into buffers kept between calls, "
           "when the nin.repack flag is set (needs ninc-plan-memory)">,
  ];
  let dependentDialects = ["mlir::transform::TransformDialect", "mlir::arith::ArithDialect", "mlir::bufferization::BufferizationDialect", "mlir::LLVM::LLVMDialect", "mlir::linalg::LinalgDialect", "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect", "mlir::tensor::TensorDialect", "mlir::vector::VectorDialect", "mlir::func::FuncDialect"];
}

def CpuInstrumentProfile : Pass<"ninc-cpu-instrument-profile", "mlir::ModuleOp"> {
  let summary = "Cycle counters around each profiled region (unscheduled code)";
  let description = [{
    The second half of `bench --profile` for code bufferized without the
    schedules (--no-schedule): calls of ninc_prof_mark around each top-level
    region holding tagged ops, and the module attribute `nin.profile`.
    (ninc-cpu-schedule does the same between its two scripts.)
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::func::FuncDialect"];
}

#endif // NINC_CODEGEN_CPU_PASSES_TD
