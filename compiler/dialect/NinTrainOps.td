//===- NinTrainOps.td - Training ops of the nin dialect ----*- tablegen -*-===//
//
// What `nin-autodiff` generates: the loss, the gradient of every forward op,
// training-mode dropout and the SGD update. Tensors are logically NCHW like
// the forward ops. Result types are set by the pass from the forward values
// (each gradient has the type of what it is the gradient of), and verified.
//
//===----------------------------------------------------------------------===//
#ifndef NIN_TRAIN_OPS_TD
#define NIN_TRAIN_OPS_TD

include "compiler/dialect/NinDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

class Nin_GradOp<string mnemonic, list<Trait> traits = []> :
    Nin_Op<mnemonic, !listconcat(traits, [Pure])>;

def Nin_SoftmaxCrossEntropyOp : Nin_GradOp<"softmax_cross_entropy"> {
  let summary = "Mean softmax cross-entropy of logits [N, K] and its gradient";
  let description = [{
    `loss` = mean over the batch of -log softmax(logits)[label]; `grad` =
    (softmax(logits) - onehot(labels)) / N, the gradient of `loss` w.r.t.
    the logits. Labels are i32 class indices.
  }];
  let arguments = (ins F32Tensor:$logits, TensorOf<[I32]>:$labels);
  let results = (outs 0DTensorOf<[F32]>:$loss, F32Tensor:$grad);
  let assemblyFormat = "$logits `,` $labels attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Nin_ReluGradOp : Nin_GradOp<"relu_grad", [SameOperandsAndResultType]> {
  let summary = "dx = y > 0 ? dy : 0, from the ReLU's output y";
  let arguments = (ins F32Tensor:$grad, F32Tensor:$output);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = "$grad `,` $output attr-dict `:` type($result)";
}

def Nin_Conv2DGradInputOp : Nin_GradOp<"conv2d_grad_input"> {
  let summary = "Gradient of a conv2d w.r.t. its input";
  let description = [{
    dx[n, c, h, w] = sum over f, kh, kw of dy[n, f, oh, ow] * w[f, c, kh, kw]
    where h = oh * stride + kh - padding (a transposed convolution). The
    result type is the forward input's.
  }];
  let arguments = (ins F32Tensor:$grad, F32Tensor:$weight, DenseI64ArrayAttr:$stride,
                       DenseI64ArrayAttr:$padding);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $weight `stride` $stride `padding` $padding attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Nin_Conv2DGradFilterOp : Nin_GradOp<"conv2d_grad_filter"> {
  let summary = "Gradient of a conv2d w.r.t. its weight [F, C, KH, KW]";
  let description = [{
    dw[f, c, kh, kw] = sum over n, oh, ow of x[n, c, oh*s + kh - p, ow*s + kw - p]
    * dy[n, f, oh, ow] (zero outside x). The result type is the weight's.
  }];
  let arguments = (ins F32Tensor:$input, F32Tensor:$grad, DenseI64ArrayAttr:$stride,
                       DenseI64ArrayAttr:$padding);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $grad `stride` $stride `padding` $padding attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Nin_BiasGradOp : Nin_GradOp<"bias_grad"> {
  let summary = "Gradient of a bias: sum of dy [N, F, H, W] over N, H, W";
  let arguments = (ins F32Tensor:$grad);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = "$grad attr-dict `:` functional-type(operands, results)";
}

def Nin_MaxPool2DGradOp : Nin_GradOp<"max_pool2d_grad"> {
  let summary = "Gradient of max pooling: each window's dy goes to its first maximum";
  let arguments = (ins F32Tensor:$input, F32Tensor:$grad, DenseI64ArrayAttr:$kernel,
                       DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $grad `kernel` $kernel `stride` $stride `padding` $padding attr-dict `:`
    functional-type(operands, results)
  }];
}

def Nin_AvgPool2DGradOp : Nin_GradOp<"avg_pool2d_grad"> {
  let summary = "Gradient of average pooling (full-window divisor)";
  let arguments = (ins F32Tensor:$grad, DenseI64ArrayAttr:$kernel,
                       DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = [{
    $grad `kernel` $kernel `stride` $stride `padding` $padding attr-dict `:`
    functional-type(operands, results)
  }];
}

def Nin_GlobalAvgPoolGradOp : Nin_GradOp<"global_avg_pool_grad"> {
  let summary = "dx[n, c, h, w] = dy[n, c, 0, 0] / (H * W)";
  let arguments = (ins F32Tensor:$grad);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = "$grad attr-dict `:` functional-type(operands, results)";
}

def Nin_UnflattenOp : Nin_GradOp<"unflatten"> {
  let summary = "[N, C*H*W] -> [N, C, H, W] (the gradient of flatten)";
  let arguments = (ins F32Tensor:$grad);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = "$grad attr-dict `:` functional-type(operands, results)";
}

def Nin_DropoutTrainOp : Nin_GradOp<"dropout_train", [AllTypesMatch<["input", "output"]>]> {
  let summary = "Inverted dropout with the counter-based mask of (seed, step, stream)";
  let description = [{
    Element e is kept iff randomUniform01(seed, stream, step * 2^40 + e) >=
    rate (runtime/support/Random.h); kept values are scaled by 1/(1-rate).
    `stream` is kStreamDropout + the layer's index, as in the interpreter.
    Applied to the gradient (nin.dropout_train on dy) it is its own backward.
  }];
  let arguments = (ins F32Tensor:$input, I64:$seed, I64:$step, F32Attr:$rate,
                       I64Attr:$stream);
  let results = (outs F32Tensor:$output);
  let assemblyFormat = [{
    $input `,` $seed `,` $step `rate` $rate `stream` $stream attr-dict `:` type($output)
  }];
}

def Nin_SgdUpdateOp : Nin_GradOp<"sgd_update", [AllTypesMatch<["param", "grad", "velocity",
                                                                "new_param", "new_velocity"]>]> {
  let summary = "One SGD step (PyTorch's formula) on one parameter";
  let description = [{
    g' = g + wd * w; with momentum v' = momentum * v + g', w' = w - lr * v';
    without, w' = w - lr * g' and v' = v. `hyper` is [lr, momentum, wd].
  }];
  let arguments = (ins F32Tensor:$param, F32Tensor:$grad, F32Tensor:$velocity,
                       TensorOf<[F32]>:$hyper);
  let results = (outs F32Tensor:$new_param, F32Tensor:$new_velocity);
  let assemblyFormat = [{
    $param `,` $grad `,` $velocity `,` $hyper attr-dict `:` type($param) `,` type($hyper)
  }];
}

#endif // NIN_TRAIN_OPS_TD
