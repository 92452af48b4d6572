//===- compiler/codegen/cuda/Pipeline.cpp - Schedule + lowering to NVVM --===//
//
// lowerToLLVMDialect (CudaCodegen.h): pads to gathers, the kernel schedule
// (Schedule.cpp) run by the transform interpreter, host copies to device
// copies, the memory plan, then the pass list that Debian's MLIR 19 takes
// from gpu.launch to a cubin (../shared/notes/mlir19-cuda.md).
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/cuda/CudaInternal.h"

#include "compiler/codegen/common/BufferizationPrep.h"
#include "compiler/codegen/common/DiagnosticCollector.h"
#include "compiler/codegen/common/MemoryPlan.h"
#include "compiler/codegen/common/TransformScript.h"
#include "compiler/codegen/cpu/CpuCodegen.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Transform/IR/TransformOps.h"
#include "mlir/Dialect/Transform/Transforms/TransformInterpreterUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include <mutex>

using namespace mlir;

namespace ninc::cuda {
namespace {


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

Status applyScript(ModuleOp module, const std::string &script, const DiagnosticCollector &diags) {
  if (Status s = codegen::applyTransformScript(module, script, "GPU schedule"); !s)
    return diags.error(s.message());
  module.walk([](Operation *op) {
    op->removeAttr(detail::kKernelTag);
    op->removeAttr(detail::kFusedTag);
  });
  return Status::ok();
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

std::string loweringPipeline(const CudaOptions &opts) {
  return "convert-vector-to-scf,convert-scf-to-cf,convert-nvvm-to-llvm,"
         "convert-func-to-llvm{use-bare-ptr-memref-call-conv=1},expand-strided-metadata,"
         "nvvm-attach-target{chip=" + opts.arch + " O=3},lower-affine,convert-arith-to-llvm,"
         "convert-index-to-llvm,"
         "gpu.module(strip-debuginfo,convert-gpu-to-nvvm,reconcile-unrealized-casts),"
         "gpu-to-llvm,gpu-module-to-binary{format=" + std::string(opts.ptx ? "isa" : "bin") +
         " toolkit=" + opts.toolkit + "},"
         "reconcile-unrealized-casts";
}

Status runPipeline(ModuleOp module, const std::string &pipeline, const DiagnosticCollector &diags,
                   const char *what) {
  PassManager pm(module.getContext());
  if (failed(parsePassPipeline(pipeline, pm)))
    return Error{"cuda backend: internal error: the lowering pipeline does not parse"};
  if (failed(pm.run(module)))
    return diags.error(what);
  return Status::ok();
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

Status lowerToLLVMDialect(ModuleOp module, const CudaOptions &opts) {
  MLIRContext *ctx = module.getContext();
  if (!ctx->getOrLoadDialect("gpu") || !ctx->getOrLoadDialect("nvvm") ||
      !ctx->isOperationRegistered("transform.gpu.map_forall_to_blocks"))
    return Error{"cuda backend: the MLIRContext lacks the backend's dialects; create it with "
                 "registerCudaCodegenDialects"};
  registerPipelinePasses();
  DiagnosticCollector diags(ctx, "cuda backend");
  lowering::sinkOutputReshapes(module);
  lowering::unshareFillInits(module);
  detail::padsToGathers(module);
  Expected<std::vector<detail::KernelPlan>> plans = detail::planKernels(module);
  if (!plans)
    return plans.error();
  if (Status s = applyScript(module, detail::scheduleScript(*plans, !opts.emulate), diags); !s)
    return s;
  if (Status s = detail::emitGemmKernels(module, opts.emulate, opts.precision); !s)
    return s;
  if (opts.emulate) {
    cpu::CpuOptions cpuOpts;
    cpuOpts.threads = 1;
    cpuOpts.planMemory = true;
    cpuOpts.memoryReport = opts.memoryReport;
    return cpu::lowerBufferizedToLLVMDialect(module, cpuOpts);
  }
  if (Status s = checkHostCode(module); !s)
    return s;
  planModuleArenas(module, opts.memoryReport);
  // A host allocation would be host memory handed to the kernels.
  bool unplanned = false;
  module.walk([&](memref::AllocOp alloc) {
    unplanned |= alloc->getParentOfType<gpu::LaunchOp>() == nullptr;
  });
  if (unplanned)
    return Error{"cuda backend: internal error: a buffer the memory plan could not place "
                 "(dynamic shape or layout) would live in host memory"};
  if (Status s = runPipeline(module, outliningPipeline(), diags, "outlining the kernels failed");
      !s)
    return s;
  if (Status s = runPipeline(module, loweringPipeline(opts), diags,
                             "lowering to NVVM and the cubin failed");
      !s)
    return s;
  if (opts.ptx)
    for (auto binary : module.getOps<gpu::BinaryOp>())
      for (Attribute a : binary.getObjects())
        if (auto object = dyn_cast<gpu::ObjectAttr>(a)) {
          StringRef text = object.getObject().getValue();
          opts.ptx->push_back({binary.getName().str(), text.rtrim(StringRef("\0", 1)).str()});
        }
  return Status::ok();
}

} // namespace ninc::cuda
