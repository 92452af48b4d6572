// nin-fuse-1x1-chains turns the 1x1 conv+bias+ReLU chain of a NiN block into
// one pointwise_mlp; the kxk conv before it and single 1x1 convs stay.
// RUN: ninc-opt %s --nin-fuse-1x1-chains | FileCheck %s

// CHECK-LABEL: func.func @nin_block
func.func @nin_block(%x: tensor<1x3x8x8xf32>, %w0: tensor<4x3x3x3xf32>, %b0: tensor<4xf32>,
                     %w1: tensor<4x4x1x1xf32>, %b1: tensor<4xf32>,
                     %w2: tensor<6x4x1x1xf32>, %b2: tensor<6xf32>,
                     %w3: tensor<6x6x1x1xf32>, %b3: tensor<6xf32>) -> tensor<1x6x8x8xf32> {
  // CHECK: %[[K:.*]] = nin.conv2d %{{.*}}, %{{.*}}, %{{.*}} stride [1, 1] padding [1, 1] relu
  // CHECK-NEXT: %[[M:.*]] = nin.pointwise_mlp %[[K]] weights(%{{.*}}, %{{.*}}, %{{.*}}) biases(%{{.*}}, %{{.*}}, %{{.*}}) : {{.*}} -> tensor<1x6x8x8xf32>
  // CHECK-NOT: nin.conv2d
  // CHECK: return %[[M]]
  %0 = nin.conv2d %x, %w0, %b0 stride [1, 1] padding [1, 1] relu : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
  %1 = nin.conv2d %0, %w1, %b1 stride [1, 1] padding [0, 0] relu : (tensor<1x4x8x8xf32>, tensor<4x4x1x1xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
  %2 = nin.conv2d %1, %w2, %b2 stride [1, 1] padding [0, 0] relu : (tensor<1x4x8x8xf32>, tensor<6x4x1x1xf32>, tensor<6xf32>) -> tensor<1x6x8x8xf32>
  %3 = nin.conv2d %2, %w3, %b3 stride [1, 1] padding [0, 0] relu : (tensor<1x6x8x8xf32>, tensor<6x6x1x1xf32>, tensor<6xf32>) -> tensor<1x6x8x8xf32>
  return %3 : tensor<1x6x8x8xf32>
}

// One 1x1 conv (exercise 2's block) is not a chain; a 1x1 conv without ReLU
// or with an intermediate that has another use breaks the chain.
// CHECK-LABEL: func.func @no_chain
func.func @no_chain(%x: tensor<1x4x8x8xf32>, %w: tensor<4x4x1x1xf32>, %b: tensor<4xf32>) -> (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) {
  // CHECK-NOT: nin.pointwise_mlp
  %0 = nin.conv2d %x, %w, %b stride [1, 1] padding [0, 0] : (tensor<1x4x8x8xf32>, tensor<4x4x1x1xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
  %1 = nin.conv2d %0, %w, %b stride [1, 1] padding [0, 0] relu : (tensor<1x4x8x8xf32>, tensor<4x4x1x1xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
  %2 = nin.conv2d %1, %w, %b stride [1, 1] padding [0, 0] relu : (tensor<1x4x8x8xf32>, tensor<4x4x1x1xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
  return %1, %2 : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>
}
