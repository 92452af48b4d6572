//===- NinOps.td - Operations of the nin dialect -----------*- tablegen -*-===//
//
// Shapes: every op implements InferTypeOpInterface from the shape rules in
// NinOps.cpp (the same rules as compiler/model/Shapes.cpp), so the
// `nin-infer-shapes` pass can refine unranked results, and verifiers check
// that static result types agree with the rules.
//
//===----------------------------------------------------------------------===//
#ifndef NIN_OPS_TD
#define NIN_OPS_TD

include "compiler/dialect/NinDialect.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

class Nin_ShapedOp<string mnemonic, list<Trait> traits = []> :
    Nin_Op<mnemonic, !listconcat(traits, [Pure, InferTypeOpAdaptorWithIsCompatible])> {
  // Result types must agree with the shape rules (checked by the interface);
  // unranked results are allowed until `nin-infer-shapes` has run.
}

def Nin_Conv2DOp : Nin_ShapedOp<"conv2d"> {
  let summary = "2-D convolution (cross-correlation) with optional bias and ReLU";
  let description = [{
    `input` is [N, C, H, W], `weight` [F, C, KH, KW], `bias` [F]. Zero
    padding `padding` = [ph, pw] on both sides, `stride` = [sh, sw]. With
    `relu` the output is max(conv + bias, 0): the fusion pass folds a
    following `nin.relu` into this attribute.

    ```mlir
    %y = nin.conv2d %x, %w, %b stride [4, 4] padding [0, 0] relu
        : (tensor<1x1x224x224xf32>, tensor<96x1x11x11xf32>, tensor<96xf32>)
        -> tensor<1x96x54x54xf32>
    ```
  }];
  let arguments = (ins F32Tensor:$input, F32Tensor:$weight,
                       Optional<F32Tensor>:$bias,
                       DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                       UnitAttr:$relu);
  let results = (outs F32Tensor:$output);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? `stride` $stride `padding` $padding
    (`relu` $relu^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Nin_PointwiseMlpOp : Nin_ShapedOp<"pointwise_mlp", [AttrSizedOperandSegments]> {
  let summary = "A chain of 1x1 convolutions with bias and ReLU, fused";
  let description = [{
    The per-pixel MLP of a NiN block (d2l 7.3): for every pixel of `input`
    [N, C, H, W], x <- max(W_i x + b_i, 0) for each layer i, with
    `weights[i]` [F_i, F_{i-1}, 1, 1] and `biases[i]` [F_i]. Intermediate
    per-pixel vectors never go to memory. Created by `nin-fuse-1x1-chains`.

    ```mlir
    %y = nin.pointwise_mlp %x weights(%w1, %w2) biases(%b1, %b2)
        : (tensor<1x96x54x54xf32>, tensor<96x96x1x1xf32>, tensor<96x96x1x1xf32>,
           tensor<96xf32>, tensor<96xf32>) -> tensor<1x96x54x54xf32>
    ```
  }];
  let arguments = (ins F32Tensor:$input, Variadic<F32Tensor>:$weights,
                       Variadic<F32Tensor>:$biases);
  let results = (outs F32Tensor:$output);
  let assemblyFormat = [{
    $input `weights` `(` $weights `)` `biases` `(` $biases `)` attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Nin_ReluOp : Nin_ShapedOp<"relu"> {
  let summary = "max(x, 0), elementwise";
  let arguments = (ins F32Tensor:$input);
  let results = (outs F32Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

class Nin_Pool2DOp<string mnemonic, string what> : Nin_ShapedOp<mnemonic> {
  let summary = what # " pooling over [kh, kw] windows";
  let description = [{
    [N, C, H, W] -> [N, C, OH, OW], floor mode. Max pooling pads with -inf;
    average pooling divides by the full window, padding included.
  }];
  let arguments = (ins F32Tensor:$input, DenseI64ArrayAttr:$kernel,
                       DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding);
  let results = (outs F32Tensor:$output);
  let assemblyFormat = [{
    $input `kernel` $kernel `stride` $stride `padding` $padding attr-dict `:`
    functional-type(operands, results)
  }];
}

def Nin_MaxPool2DOp : Nin_Pool2DOp<"max_pool2d", "Max">;
def Nin_AvgPool2DOp : Nin_Pool2DOp<"avg_pool2d", "Average">;

def Nin_GlobalAvgPoolOp : Nin_ShapedOp<"global_avg_pool"> {
  let summary = "Mean over height and width: [N, C, H, W] -> [N, C, 1, 1]";
  let arguments = (ins F32Tensor:$input);
  let results = (outs F32Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Nin_DropoutOp : Nin_ShapedOp<"dropout"> {
  let summary = "Inverted dropout (identity in inference)";
  let description = [{
    In a training graph (`training` set) zeroes elements with probability
    `rate` from the counter-based RNG and scales the rest by 1/(1-rate); in
    inference it is the identity and folds away.
  }];
  let arguments = (ins F32Tensor:$input, F32Attr:$rate, UnitAttr:$training);
  let results = (outs F32Tensor:$output);
  let assemblyFormat = [{
    $input `rate` $rate (`training` $training^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasFolder = 1;
}

def Nin_FlattenOp : Nin_ShapedOp<"flatten"> {
  let summary = "[N, C, H, W] -> [N, C*H*W] in NCHW order";
  let arguments = (ins F32Tensor:$input);
  let results = (outs F32Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

include "compiler/dialect/NinTrainOps.td"

#endif // NIN_OPS_TD
