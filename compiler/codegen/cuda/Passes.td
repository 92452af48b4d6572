//===- compiler/codegen/cuda/Passes.td - The CUDA target's passes -*- tablegen -*-===//
#ifndef NINC_CODEGEN_CUDA_PASSES_TD
#define NINC_CODEGEN_CUDA_PASSES_TD

include "mlir/Pass/PassBase.td"

def CudaPadsToGathers : Pass<"ninc-cuda-pads-to-gathers", "mlir::ModuleOp"> {
  let summary = "tensor.pad with a constant -> a gather linalg.generic";
  let description = [{
    `out[i] = (i - low in range) ? x[i - low] : pad`, one generic over the
    padded shape reading x with tensor.extract, so a pad tiles and becomes a
    kernel like any other elementwise op.

    ```mlir
    %p = tensor.pad %x low[0, 1, 1, 0] high[0, 1, 1, 0] { ... tensor.yield %zero }
    // becomes
    %p = linalg.generic {iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
        outs(%empty : tensor<1x10x10x8xf32>) { ... tensor.extract %x[...] ... arith.select }
    ```
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::linalg::LinalgDialect", "mlir::tensor::TensorDialect"];
}

def CudaSchedule : Pass<"ninc-cuda-schedule", "mlir::ModuleOp"> {
  let summary = "Every linalg op -> a block forall and a thread forall; bufferize; gpu.launch";
  let description = [{
    Plans each linalg op's launch (Schedule.cpp: blocks over the outer
    parallel loops, 8 x 32 or 256 threads over the inner ones; convs and
    matmuls are tagged for the GEMM kernels instead) and applies it as a
    transform script: tiling to nested scf.foralls, fusion of producers,
    one-shot bufferization and, with `map-to-gpu`, one gpu.launch per block
    forall (without: the foralls stay loops, for the CPU emulation).
  }];
  let options = [
    Option<"mapToGpu", "map-to-gpu", "bool", /*default=*/"true",
           "Map the foralls to gpu.launch (false: CPU emulation)">,
  ];
  let dependentDialects = ["mlir::transform::TransformDialect", "mlir::arith::ArithDialect", "mlir::bufferization::BufferizationDialect", "mlir::gpu::GPUDialect", "mlir::linalg::LinalgDialect", "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect", "mlir::tensor::TensorDialect"];
}

def CudaGemmKernels : Pass<"ninc-cuda-gemm-kernels", "mlir::ModuleOp"> {
  let summary = "Each tagged conv / matmul with its fill and epilogue -> one GEMM kernel";
  let description = [{
    After bufferization (GemmKernels.cpp): implicit GEMM for convolutions,
    64 x BN output tiles a block, 4 x 4 a thread in registers or mma.sync
    fragments (tf32, bf16), K through double-buffered shared-memory tiles,
    the zero fill and bias/ReLU epilogue folded in, a NiN block's 1x1 pair in
    one kernel with its intermediate in shared memory. With `emulate`, the
    same kernel as CPU loops over blocks and, per barrier phase, threads.
  }];
  let options = [
    Option<"emulate", "emulate", "bool", /*default=*/"false",
           "Loops for the CPU instead of gpu.launch">,
    Option<"precision", "precision", "std::string", /*default=*/"\"fp32\"",
           "fp32 (FMAs), tf32 or bf16 (tensor cores, fp32 accumulation)">,
  ];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::gpu::GPUDialect", "mlir::memref::MemRefDialect", "mlir::nvgpu::NVGPUDialect", "mlir::NVVM::NVVMDialect", "mlir::scf::SCFDialect", "mlir::vector::VectorDialect", "mlir::LLVM::LLVMDialect"];
}

def CudaHostCopiesToKernels : Pass<"ninc-cuda-host-copies-to-kernels", "mlir::ModuleOp"> {
  let summary = "Copies left on the host -> copy kernels; refuse other host memory access";
  let description = [{
    What bufferization left outside a gpu.launch: a copy of a view onto
    itself goes, any other memref.copy becomes a one-thread-per-element
    kernel; a linalg op not mapped to a kernel, or an allocation inside one,
    is an internal error.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::gpu::GPUDialect", "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect"];
}

def CudaCheckDeviceBuffers : Pass<"ninc-cuda-check-device-buffers", "mlir::ModuleOp"> {
  let summary = "Fail if a buffer stayed outside the device arena";
  let description = [{
    After ninc-plan-memory: a memref.alloc left on the host would be host
    memory handed to the kernels; every buffer must be a view of the arena.
  }];
}

#endif // NINC_CODEGEN_CUDA_PASSES_TD
