// nin-fuse-conv-relu folds a ReLU into the conv that feeds it, only when the
// conv has no other user.
// RUN: ninc-opt %s --nin-fuse-conv-relu | FileCheck %s

// CHECK-LABEL: func.func @fused
func.func @fused(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x8x8xf32> {
  // CHECK: %[[C:.*]] = nin.conv2d %{{.*}}, %{{.*}}, %{{.*}} stride [1, 1] padding [1, 1] relu
  // CHECK-NOT: nin.relu
  // CHECK: return %[[C]]
  %0 = nin.conv2d %x, %w, %b stride [1, 1] padding [1, 1] : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
  %1 = nin.relu %0 : (tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  return %1 : tensor<1x4x8x8xf32>
}

// The pre-activation value is used elsewhere: nothing to fuse.
// CHECK-LABEL: func.func @two_uses
func.func @two_uses(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) {
  // CHECK: nin.conv2d %{{.*}}, %{{.*}} stride [1, 1] padding [1, 1] :
  // CHECK: nin.relu
  %0 = nin.conv2d %x, %w stride [1, 1] padding [1, 1] : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
  %1 = nin.relu %0 : (tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  return %0, %1 : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>
}

// A ReLU after a pooling stays.
// CHECK-LABEL: func.func @not_a_conv
func.func @not_a_conv(%x: tensor<1x3x8x8xf32>) -> tensor<1x3x4x4xf32> {
  // CHECK: nin.relu
  %0 = nin.max_pool2d %x kernel [2, 2] stride [2, 2] padding [0, 0] : (tensor<1x3x8x8xf32>) -> tensor<1x3x4x4xf32>
  %1 = nin.relu %0 : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  return %1 : tensor<1x3x4x4xf32>
}
