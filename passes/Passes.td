//===- passes/Passes.td - Graph passes on the nin dialect --*- tablegen -*-===//
#ifndef NINC_PASSES_TD
#define NINC_PASSES_TD

include "mlir/Pass/PassBase.td"

def InferShapes : Pass<"nin-infer-shapes", "mlir::func::FuncOp"> {
  let summary = "Compute every result shape from the input shape";
  let description = [{
    The importer leaves results unranked; this pass walks the function in
    order and sets each op's result type from its shape rule
    (InferTypeOpInterface), then the function's result type. Every later
    pass sees static shapes. A rule that fails (e.g. a window larger than its
    input) is reported at the layer's location.

    Before:
    ```mlir
    %0 = nin.conv2d %arg0, %arg1, %arg2 stride [4, 4] padding [0, 0]
        : (tensor<1x1x224x224xf32>, tensor<96x1x11x11xf32>, tensor<96xf32>) -> tensor<*xf32>
    ```
    After:
    ```mlir
    %0 = nin.conv2d %arg0, %arg1, %arg2 stride [4, 4] padding [0, 0]
        : (tensor<1x1x224x224xf32>, tensor<96x1x11x11xf32>, tensor<96xf32>) -> tensor<1x96x54x54xf32>
    ```
  }];
}

def FuseConvRelu : Pass<"nin-fuse-conv-relu", "mlir::func::FuncOp"> {
  let summary = "Fold a ReLU into the convolution (+ bias) that feeds it";
  let description = [{
    `relu(conv2d(x, w, b))` becomes `conv2d(x, w, b) relu` when the
    convolution has no other user, so bias and activation are applied in the
    convolution's epilogue instead of a second pass over memory.

    Before:
    ```mlir
    %0 = nin.conv2d %x, %w, %b stride [1, 1] padding [0, 0] : ...
    %1 = nin.relu %0 : ...
    ```
    After:
    ```mlir
    %0 = nin.conv2d %x, %w, %b stride [1, 1] padding [0, 0] relu : ...
    ```
  }];
}

def Fuse1x1Chains : Pass<"nin-fuse-1x1-chains", "mlir::func::FuncOp"> {
  let summary = "Fuse chains of 1x1 conv + bias + ReLU into one per-pixel MLP";
  let description = [{
    A NiN block's 1x1 convolutions (stride 1, no padding, bias, fused ReLU)
    that feed each other, each used once, become one `nin.pointwise_mlp`:
    one op whose intermediate per-pixel vectors need never go to memory.
    Run after `nin-fuse-conv-relu`. Single 1x1 convolutions are left as
    convolutions.

    Before:
    ```mlir
    %1 = nin.conv2d %0, %w1, %b1 stride [1, 1] padding [0, 0] relu : ...
    %2 = nin.conv2d %1, %w2, %b2 stride [1, 1] padding [0, 0] relu : ...
    ```
    After:
    ```mlir
    %2 = nin.pointwise_mlp %0 weights(%w1, %w2) biases(%b1, %b2) : ...
    ```
  }];
}

def Autodiff : Pass<"nin-autodiff", "mlir::ModuleOp"> {
  let summary = "Generate the training step of each inference function";
  let description = [{
    For `@m_infer(%x, %params...) -> logits` (shapes inferred, conv+ReLU
    fused, 1x1 chains not yet fused, dropout in training mode) creates

    ```mlir
    func.func @m_train_step(%x, %labels: tensor<Nxi32>, %params..., %velocities...,
                            %hyper: tensor<3xf32>, %seed: i64, %step: i64)
        -> (loss: tensor<f32>, logits, new params..., new velocities...)
    ```

    the forward graph (dropout as `nin.dropout_train` with the interpreter's
    counter-based masks), `nin.softmax_cross_entropy`, the gradient of every
    op in reverse order (a fused ReLU's gradient from its output; no input
    gradient for the image batch) and one `nin.sgd_update` per parameter.
    Dropout in `@m_infer` is then switched to inference mode (it folds away).
  }];
}

#endif // NINC_PASSES_TD
