//===- compiler/conversion/Passes.td - nin -> linalg -------*- tablegen -*-===//
#ifndef NINC_CONVERSION_PASSES_TD
#define NINC_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def NinToLinalg : Pass<"nin-to-linalg", "mlir::ModuleOp"> {
  let summary = "Lower nin functions to linalg on NHWC tensors in destination-passing form";
  let description = [{
    Each function after the graph passes becomes upstream linalg/tensor ops
    on NHWC activations and HWCF filters with the C ABI of NinToLinalg.h:
    the parameters in one weights blob (laid out by rt::layoutBlob, listed in
    the `nin.params` table), the results written into destination memrefs.
    @<model>_train_step gets the training ABI of NinToLinalgTrain.h. Where
    targets want different IR, each option below selects one form
    (LinalgForms in NinToLinalg.h); the pipeline picks them per target.

    Before:
    ```mlir
    func.func @m_infer(%x: tensor<128x1x224x224xf32>, %w: tensor<96x1x11x11xf32> {nin.param = "block1.0.weight"}, ...)
    ```
    After:
    ```mlir
    func.func @m_infer(%x: memref<128x1x224x224xf32> {nin.input}, %blob: memref<1992208xf32> {nin.weights},
                       %logits: memref<128x10xf32> {nin.output}) attributes {nin.params = [...]}
    ```
  }];
  let options = [
    Option<"weightGradGroupLoop", "weight-grad-group-loop", "bool", /*default=*/"false",
           "Weight gradients' per-group convolutions / matmuls as one scf.for over the "
           "groups of images, not unrolled per group">,
    Option<"weightGradMatmulTransposeA", "weight-grad-matmul-transpose-a", "bool",
           /*default=*/"false",
           "1x1 weight gradients as linalg.matmul_transpose_a reading the activations in "
           "place, not linalg.transpose + linalg.matmul">,
    Option<"reluGradInPlace", "relu-grad-in-place", "bool", /*default=*/"false",
           "ReLU gradients applied where dy is made (in place over dy, on a 1x1 input "
           "gradient's matmul rows, in a pooling gradient's gather), not folded into the "
           "readers of a k x k convolution's dz">,
    Option<"maxPoolArgmax", "max-pool-argmax", "bool", /*default=*/"false",
           "Max pools as one (max, argmax) generic whose argmax the gradient reads, not "
           "pooling_nhwc_max and a per-tap argmax in the gradient">,
    Option<"poolGradGather", "pool-grad-gather", "bool", /*default=*/"false",
           "Pooling gradients gathered per stride class (each dx element written once), "
           "not scattered one window tap at a time">,
    Option<"gradSync", "grad-sync", "bool", /*default=*/"false",
           "The training step's gradients gathered into one buffer in the weights' layout "
           "and passed to the runtime's ninc_grad_sync(float *, int64_t) between the "
           "backward and the update (data-parallel training)">,
  ];
}

#endif // NINC_CONVERSION_PASSES_TD
