// nin-infer-shapes: every result type follows from the input shape.
// RUN: not ninc-opt %s --nin-infer-shapes --split-input-file 2>/dev/null | FileCheck %s
// RUN: ninc-opt %s --nin-infer-shapes --split-input-file --verify-diagnostics -o /dev/null

// CHECK-LABEL: func.func @chain
// CHECK-SAME: -> tensor<2x10xf32>
func.func @chain(%x: tensor<2x1x32x32xf32>, %w: tensor<8x1x5x5xf32>, %b: tensor<8xf32>,
                 %w2: tensor<10x8x1x1xf32>) -> tensor<*xf32> {
  // CHECK: nin.conv2d {{.*}} -> tensor<2x8x14x14xf32>
  %0 = nin.conv2d %x, %w, %b stride [2, 2] padding [0, 0] : (tensor<2x1x32x32xf32>, tensor<8x1x5x5xf32>, tensor<8xf32>) -> tensor<*xf32>
  // CHECK: nin.relu {{.*}} -> tensor<2x8x14x14xf32>
  %1 = nin.relu %0 : (tensor<*xf32>) -> tensor<*xf32>
  // CHECK: nin.max_pool2d {{.*}} -> tensor<2x8x6x6xf32>
  %2 = nin.max_pool2d %1 kernel [3, 3] stride [2, 2] padding [0, 0] : (tensor<*xf32>) -> tensor<*xf32>
  // CHECK: nin.dropout {{.*}} -> tensor<2x8x6x6xf32>
  %3 = nin.dropout %2 rate 0.5 : (tensor<*xf32>) -> tensor<*xf32>
  // CHECK: nin.conv2d {{.*}} -> tensor<2x10x6x6xf32>
  %4 = nin.conv2d %3, %w2 stride [1, 1] padding [0, 0] : (tensor<*xf32>, tensor<10x8x1x1xf32>) -> tensor<*xf32>
  // CHECK: nin.global_avg_pool {{.*}} -> tensor<2x10x1x1xf32>
  %5 = nin.global_avg_pool %4 : (tensor<*xf32>) -> tensor<*xf32>
  // CHECK: nin.flatten {{.*}} -> tensor<2x10xf32>
  %6 = nin.flatten %5 : (tensor<*xf32>) -> tensor<*xf32>
  // CHECK: return {{.*}} : tensor<2x10xf32>
  return %6 : tensor<*xf32>
}

// -----

// A window that no longer fits once shapes are known is reported at its op.
func.func @too_small(%x: tensor<1x1x4x4xf32>) -> tensor<*xf32> {
  %0 = nin.max_pool2d %x kernel [3, 3] stride [2, 2] padding [0, 0] : (tensor<1x1x4x4xf32>) -> tensor<*xf32>
  // expected-error@+1 {{expected a window that fits the padded input 1x1, found kernel 3x3}}
  %1 = nin.max_pool2d %0 kernel [3, 3] stride [2, 2] padding [0, 0] : (tensor<*xf32>) -> tensor<*xf32>
  return %1 : tensor<*xf32>
}
