// Every nin op parses, verifies and prints back in the same form.
// RUN: ninc-opt %s | ninc-opt | FileCheck %s

// CHECK-LABEL: func.func @ops
func.func @ops(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>,
               %w1: tensor<5x4x1x1xf32>, %b1: tensor<5xf32>) -> tensor<2x20xf32> {
  // CHECK: nin.conv2d %{{.*}}, %{{.*}}, %{{.*}} stride [1, 1] padding [1, 1] relu : (tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<2x4x8x8xf32>
  %0 = nin.conv2d %x, %w, %b stride [1, 1] padding [1, 1] relu
      : (tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<2x4x8x8xf32>
  // CHECK: nin.conv2d %{{.*}}, %{{.*}} stride [2, 2] padding [0, 0] : (tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<2x4x3x3xf32>
  %nobias = nin.conv2d %x, %w stride [2, 2] padding [0, 0]
      : (tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<2x4x3x3xf32>
  // CHECK: nin.pointwise_mlp %{{.*}} weights(%{{.*}}) biases(%{{.*}})
  %1 = nin.pointwise_mlp %0 weights(%w1) biases(%b1)
      : (tensor<2x4x8x8xf32>, tensor<5x4x1x1xf32>, tensor<5xf32>) -> tensor<2x5x8x8xf32>
  // CHECK: nin.relu
  %2 = nin.relu %1 : (tensor<2x5x8x8xf32>) -> tensor<2x5x8x8xf32>
  // CHECK: nin.max_pool2d %{{.*}} kernel [3, 3] stride [2, 2] padding [1, 1]
  %3 = nin.max_pool2d %2 kernel [3, 3] stride [2, 2] padding [1, 1]
      : (tensor<2x5x8x8xf32>) -> tensor<2x5x4x4xf32>
  // CHECK: nin.avg_pool2d %{{.*}} kernel [2, 2] stride [2, 2] padding [0, 0]
  %4 = nin.avg_pool2d %3 kernel [2, 2] stride [2, 2] padding [0, 0]
      : (tensor<2x5x4x4xf32>) -> tensor<2x5x2x2xf32>
  // CHECK: nin.dropout %{{.*}} rate 5.000000e-01 training
  %5 = nin.dropout %4 rate 0.5 training : (tensor<2x5x2x2xf32>) -> tensor<2x5x2x2xf32>
  // CHECK: nin.global_avg_pool
  %6 = nin.global_avg_pool %5 : (tensor<2x5x2x2xf32>) -> tensor<2x5x1x1xf32>
  // CHECK: nin.flatten %{{.*}} : (tensor<2x5x2x2xf32>) -> tensor<2x20xf32>
  %7 = nin.flatten %5 : (tensor<2x5x2x2xf32>) -> tensor<2x20xf32>
  return %7 : tensor<2x20xf32>
}

// Unranked results are allowed before shape inference.
// CHECK-LABEL: func.func @unranked
func.func @unranked(%x: tensor<1x1x8x8xf32>, %w: tensor<2x1x3x3xf32>) -> tensor<*xf32> {
  // CHECK: -> tensor<*xf32>
  %0 = nin.conv2d %x, %w stride [1, 1] padding [0, 0] : (tensor<1x1x8x8xf32>, tensor<2x1x3x3xf32>) -> tensor<*xf32>
  %1 = nin.relu %0 : (tensor<*xf32>) -> tensor<*xf32>
  return %1 : tensor<*xf32>
}
