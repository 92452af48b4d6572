//===- compiler/codegen/cuda/Pipeline.cpp - The CUDA target's passes -----===//
//
// The CUDA target's steps as passes (Passes.td) and the pipeline from linalg
// on tensors to NVVM and cubins (or, emulated, to CPU loops): CudaCodegen.h
// lists the order; ../shared/notes/mlir19-cuda.md the pass list that Debian's
// MLIR 19 takes from gpu.launch to a cubin.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cuda/CudaInternal.h"

#include "compiler/codegen/common/Passes.h"
#include "compiler/codegen/common/TransformScript.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Transform/IR/TransformDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include <mutex>

using namespace mlir;

namespace ninc::cuda {
#define GEN_PASS_DECL
#define GEN_PASS_DEF_CUDAPADSTOGATHERS
#define GEN_PASS_DEF_CUDASCHEDULE
#define GEN_PASS_DEF_CUDAGEMMKERNELS
#define GEN_PASS_DEF_CUDAHOSTCOPIESTOKERNELS
#define GEN_PASS_DEF_CUDACHECKDEVICEBUFFERS
#define GEN_PASS_REGISTRATION
#include "compiler/codegen/cuda/Passes.h.inc"

namespace {

/// The upstream passes the textual pipelines below name.
void registerPipelinePasses() {
  static std::once_flag once;
  std::call_once(once, [] {
    bufferization::registerEmptyTensorEliminationPass();
    registerGPUPasses();
    registerConversionPasses();
    registerLinalgPasses();
    memref::registerMemRefPasses();
    registerTransformsPasses();
  });
}

/// dst = src for static memrefs of any layout, as a kernel: one thread per
/// element (256 a block), the linear index split back into coordinates.
void emitCopyKernel(OpBuilder &b, Location loc, Value src, Value dst) {
  auto type = cast<MemRefType>(src.getType());
  const int64_t n = type.getNumElements(), threads = 256;
  auto index = [&](int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v).getResult(); };
  Value one = index(1);
  auto launch = b.create<gpu::LaunchOp>(loc, index((n + threads - 1) / threads), one, one,
                                        index(threads), one, one);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value linear = b.create<arith::AddIOp>(
      loc, b.create<arith::MulIOp>(loc, launch.getBlockIds().x, index(threads)),
      launch.getThreadIds().x);
  Value inside = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, linear, index(n));
  auto guardIf = b.create<scf::IfOp>(loc, inside, /*withElseRegion=*/false);
  b.setInsertionPointToStart(&guardIf.getThenRegion().front());
  SmallVector<Value> coords(type.getRank());
  Value rest = linear;
  for (int64_t d = type.getRank() - 1; d >= 0; --d) {
    Value extent = index(type.getDimSize(d));
    coords[d] = b.create<arith::RemUIOp>(loc, rest, extent);
    rest = b.create<arith::DivUIOp>(loc, rest, extent);
  }
  Value v = b.create<memref::LoadOp>(loc, src, coords);
  b.create<memref::StoreOp>(loc, v, dst, coords);
  b.setInsertionPointToEnd(&launch.getBody().front());
  b.create<gpu::TerminatorOp>(loc);
}

/// What bufferization left on the host: copies of a view onto itself go,
/// other copies become kernels; anything else that touches memory outside a
/// gpu.launch is refused, as is an allocation inside one.
Status checkHostCode(ModuleOp module) {
  std::string error;
  SmallVector<memref::CopyOp> copies;
  module.walk([&](Operation *op) {
    if (!error.empty())
      return;
    bool inKernel = op->getParentOfType<gpu::LaunchOp>() != nullptr;
    if (isa<memref::AllocOp, memref::AllocaOp>(op) && inKernel)
      error = "an allocation inside a kernel (" + op->getName().getStringRef().str() + ")";
    else if (auto copy = dyn_cast<memref::CopyOp>(op); copy && !inKernel)
      copies.push_back(copy);
    else if (isa<linalg::LinalgOp>(op) && !inKernel) {
      std::string where;
      llvm::raw_string_ostream os(where);
      os << op->getLoc();
      error = "'" + op->getName().getStringRef().str() + "' at " + os.str() +
              " was not mapped to a kernel";
    }
  });
  if (!error.empty())
    return Error{"cuda backend: internal error: " + error};
  for (memref::CopyOp copy : copies) {
    auto type = cast<MemRefType>(copy.getSource().getType());
    if (!type.hasStaticShape())
      return Error{"cuda backend: internal error: a copy of dynamic shape left on the host"};
    if (!detail::sameView(copy.getSource(), copy.getTarget())) {
      OpBuilder b(copy);
      emitCopyKernel(b, copy.getLoc(), copy.getSource(), copy.getTarget());
    }
    copy.erase();
  }
  return Status::ok();
}


// The passes of the module pass manager, in two parts: up to the outlined
// gpu.func kernels, and from there to the cubin (no builtin.module(...)
// around: that would nest a pass manager for modules inside the module).
// gpu-launch-sink-index-computations moves the constants that the greedy
// rewrites of convert-linalg-to-loops hoisted to the host back into each
// launch; without it they become kernel parameters that ptxas cannot fold.
std::string outliningPipeline() {
  return "func.func(convert-linalg-to-loops),convert-nvgpu-to-nvvm,"
         "gpu-launch-sink-index-computations,gpu-kernel-outlining";
}

std::string loweringPipeline(const CudaTarget &gpu, bool ptxOnly) {
  return "convert-vector-to-scf,convert-scf-to-cf,convert-nvvm-to-llvm,"
         "convert-func-to-llvm{use-bare-ptr-memref-call-conv=1},expand-strided-metadata,"
         "nvvm-attach-target{chip=" + gpu.arch + " O=3},lower-affine,convert-arith-to-llvm,"
         "convert-index-to-llvm,"
         "gpu.module(strip-debuginfo,convert-gpu-to-nvvm,reconcile-unrealized-casts),"
         "gpu-to-llvm,gpu-module-to-binary{format=" + std::string(ptxOnly ? "isa" : "bin") +
         " toolkit=" + gpu.toolkit + "},"
         "reconcile-unrealized-casts";
}


/// A failed Status as the pass's error.
void fail(Pass &pass, Operation *op, const Status &s) {
  op->emitError("cuda backend: ") << s.message();
}

struct CudaPadsToGathersPass : impl::CudaPadsToGathersBase<CudaPadsToGathersPass> {
  void runOnOperation() override { detail::padsToGathers(getOperation()); }
};

struct CudaSchedulePass : impl::CudaScheduleBase<CudaSchedulePass> {
  using CudaScheduleBase::CudaScheduleBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    registerPipelinePasses(); // apply_registered_pass in the script looks passes up by name
    Expected<std::vector<detail::KernelPlan>> plans = detail::planKernels(module);
    Status s = plans ? codegen::applyTransformScript(
                           module, detail::scheduleScript(*plans, mapToGpu), "GPU schedule")
                     : Status(plans.error());
    if (!s) {
      fail(*this, module, s);
      return signalPassFailure();
    }
    module.walk([](Operation *op) {
      op->removeAttr(detail::kKernelTag);
      op->removeAttr(detail::kFusedTag);
    });
  }
};

struct CudaGemmKernelsPass : impl::CudaGemmKernelsBase<CudaGemmKernelsPass> {
  using CudaGemmKernelsBase::CudaGemmKernelsBase;
  void runOnOperation() override {
    std::string p = precision;
    if (p != "fp32" && p != "tf32" && p != "bf16") {
      getOperation().emitError("ninc-cuda-gemm-kernels: expected precision fp32, tf32 or bf16, "
                               "got '") << p << "'";
      return signalPassFailure();
    }
    Precision kind = p == "tf32" ? Precision::TF32 : p == "bf16" ? Precision::BF16 : Precision::FP32;
    if (Status s = detail::emitGemmKernels(getOperation(), emulate, kind); !s) {
      fail(*this, getOperation(), s);
      signalPassFailure();
    }
  }
};

struct CudaHostCopiesToKernelsPass
    : impl::CudaHostCopiesToKernelsBase<CudaHostCopiesToKernelsPass> {
  void runOnOperation() override {
    if (Status s = checkHostCode(getOperation()); !s) {
      fail(*this, getOperation(), s);
      signalPassFailure();
    }
  }
};

struct CudaCheckDeviceBuffersPass : impl::CudaCheckDeviceBuffersBase<CudaCheckDeviceBuffersPass> {
  void runOnOperation() override {
    // A host allocation would be host memory handed to the kernels.
    bool unplanned = false;
    getOperation().walk([&](memref::AllocOp alloc) {
      unplanned |= alloc->getParentOfType<gpu::LaunchOp>() == nullptr;
    });
    if (!unplanned)
      return;
    getOperation().emitError("cuda backend: internal error: a buffer the memory plan could not "
                             "place (dynamic shape or layout) would live in host memory");
    signalPassFailure();
  }
};

/// Appends a textual pass list (built here, so it always parses).
void addPipeline(OpPassManager &pm, const std::string &pipeline) {
  registerPipelinePasses();
  if (failed(parsePassPipeline(pipeline, pm, llvm::errs())))
    llvm::report_fatal_error("cuda backend: internal error: the pipeline does not parse: " +
                             llvm::Twine(pipeline));
}

} // namespace

namespace detail {

bool sameView(Value a, Value b) {
  if (a == b)
    return true;
  auto va = a.getDefiningOp<memref::SubViewOp>(), vb = b.getDefiningOp<memref::SubViewOp>();
  return va && vb && sameView(va.getSource(), vb.getSource()) &&
         va.getMixedOffsets() == vb.getMixedOffsets() &&
         va.getMixedSizes() == vb.getMixedSizes() &&
         va.getMixedStrides() == vb.getMixedStrides();
}

} // namespace detail

void buildCudaCodegenPipeline(OpPassManager &pm, const Target &target, const CudaOptions &opts) {
  const CudaTarget &gpu = *target.cuda;
  pm.addPass(codegen::createPrepareBufferization());
  pm.addPass(createCudaPadsToGathers());
  pm.addPass(createCudaSchedule(CudaScheduleOptions{!gpu.emulate}));
  CudaGemmKernelsOptions gemm;
  gemm.emulate = gpu.emulate;
  gemm.precision = opts.precision == Precision::TF32   ? "tf32"
                   : opts.precision == Precision::BF16 ? "bf16"
                                                       : "fp32";
  pm.addPass(createCudaGemmKernels(gemm));
  if (gpu.emulate) {
    codegen::LoopsToLLVMOptions loops;
    loops.threads = 1;
    codegen::buildBufferizedToLLVMPipeline(pm, loops, opts.printMemoryPlan);
    return;
  }
  pm.addPass(createCudaHostCopiesToKernels());
  pm.addPass(codegen::createPlanMemory(codegen::PlanMemoryOptions{opts.printMemoryPlan}));
  pm.addPass(createCudaCheckDeviceBuffers());
  addPipeline(pm, outliningPipeline());
  addPipeline(pm, loweringPipeline(gpu, opts.ptxOnly));
}

std::vector<std::pair<std::string, std::string>> collectPtx(ModuleOp module) {
  std::vector<std::pair<std::string, std::string>> ptx;
  for (auto binary : module.getOps<gpu::BinaryOp>())
    for (Attribute a : binary.getObjects())
      if (auto object = dyn_cast<gpu::ObjectAttr>(a)) {
        StringRef text = object.getObject().getValue();
        ptx.push_back({binary.getName().str(), text.rtrim(StringRef("\0", 1)).str()});
      }
  return ptx;
}

void registerCudaCodegenPasses() {
  registerPipelinePasses();
  registerCudaPasses();
}

} // namespace ninc::cuda
