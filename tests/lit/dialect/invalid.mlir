// The verifiers name the layer (its location) and say what was expected.
// RUN: ninc-opt %s -split-input-file -verify-diagnostics

func.func @kernel_too_big(%x: tensor<1x1x8x8xf32>, %w: tensor<2x1x11x11xf32>) -> tensor<*xf32> {
  // expected-error@+2 {{expected a window that fits the padded input 8x8, found kernel 11x11}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = nin.conv2d %x, %w stride [4, 4] padding [0, 0] : (tensor<1x1x8x8xf32>, tensor<2x1x11x11xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @channels(%x: tensor<1x3x8x8xf32>, %w: tensor<2x1x3x3xf32>) -> tensor<*xf32> {
  // expected-error@+2 {{expected weight input channels 3 (the input's C), found 1}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = nin.conv2d %x, %w stride [1, 1] padding [0, 0] : (tensor<1x3x8x8xf32>, tensor<2x1x3x3xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @wrong_result(%x: tensor<1x1x8x8xf32>, %w: tensor<2x1x3x3xf32>) -> tensor<1x2x8x8xf32> {
  // expected-error@+2 {{'nin.conv2d' op inferred type(s) 'tensor<1x2x6x6xf32>' are incompatible with return type(s) of operation 'tensor<1x2x8x8xf32>'}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = nin.conv2d %x, %w stride [1, 1] padding [0, 0] : (tensor<1x1x8x8xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x8x8xf32>
  return %0 : tensor<1x2x8x8xf32>
}

// -----

func.func @bias(%x: tensor<1x1x8x8xf32>, %w: tensor<2x1x3x3xf32>, %b: tensor<3xf32>) -> tensor<*xf32> {
  // expected-error@+2 {{expected bias of shape [2]}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = nin.conv2d %x, %w, %b stride [1, 1] padding [0, 0] : (tensor<1x1x8x8xf32>, tensor<2x1x3x3xf32>, tensor<3xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @mlp_not_1x1(%x: tensor<1x4x8x8xf32>, %w: tensor<4x4x3x3xf32>, %b: tensor<4xf32>) -> tensor<*xf32> {
  // expected-error@+2 {{expected 1x1 weights [F, 4, 1, 1] in the chain}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = nin.pointwise_mlp %x weights(%w) biases(%b) : (tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>, tensor<4xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @mlp_biases(%x: tensor<1x4x8x8xf32>, %w: tensor<4x4x1x1xf32>) -> tensor<*xf32> {
  // expected-error@+1 {{expected one bias per weight and at least one layer, found 1 weights and 0 biases}}
  %0 = nin.pointwise_mlp %x weights(%w) biases() : (tensor<1x4x8x8xf32>, tensor<4x4x1x1xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @pool_rank(%x: tensor<4x8xf32>) -> tensor<*xf32> {
  // expected-error@+2 {{expected a rank-4 input [N, C, H, W], found rank 2}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = nin.max_pool2d %x kernel [3, 3] stride [2, 2] padding [0, 0] : (tensor<4x8xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @pool_window(%x: tensor<1x4x2x2xf32>) -> tensor<*xf32> {
  // expected-error@+2 {{expected a window that fits the padded input 2x2, found kernel 3x3}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = nin.avg_pool2d %x kernel [3, 3] stride [2, 2] padding [0, 0] : (tensor<1x4x2x2xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @flatten_rank(%x: tensor<4x8xf32>) -> tensor<*xf32> {
  // expected-error@+2 {{expected a rank-4 input [N, C, H, W], found rank 2}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = nin.flatten %x : (tensor<4x8xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}
