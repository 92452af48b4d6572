// nin-autodiff: @m_infer -> @m_train_step with the forward graph, the loss,
// every gradient in reverse order and one SGD update per parameter; the
// training dropout of @m_infer becomes inference dropout.
// RUN: not ninc-opt %s --split-input-file --nin-autodiff 2>/dev/null | FileCheck %s
// RUN: ninc-opt %s --split-input-file --nin-autodiff --verify-diagnostics -o /dev/null

func.func @m_infer(%x: tensor<2x1x8x8xf32>, %w: tensor<4x1x3x3xf32>, %b: tensor<4xf32>,
                   %w2: tensor<3x4x1x1xf32>) -> tensor<2x3xf32> {
  %0 = nin.conv2d %x, %w, %b stride [1, 1] padding [1, 1] relu : (tensor<2x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<2x4x8x8xf32>
  %1 = nin.max_pool2d %0 kernel [2, 2] stride [2, 2] padding [0, 0] : (tensor<2x4x8x8xf32>) -> tensor<2x4x4x4xf32>
  %2 = nin.dropout %1 rate 0.5 training {nin.stream = 8589934593 : i64} : (tensor<2x4x4x4xf32>) -> tensor<2x4x4x4xf32>
  %3 = nin.conv2d %2, %w2 stride [1, 1] padding [0, 0] : (tensor<2x4x4x4xf32>, tensor<3x4x1x1xf32>) -> tensor<2x3x4x4xf32>
  %4 = nin.global_avg_pool %3 : (tensor<2x3x4x4xf32>) -> tensor<2x3x1x1xf32>
  %5 = nin.flatten %4 : (tensor<2x3x1x1xf32>) -> tensor<2x3xf32>
  return %5 : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @m_infer
// CHECK: nin.dropout %{{.*}} rate 5.000000e-01 {nin.stream

// CHECK-LABEL: func.func @m_train_step(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<2x1x8x8xf32>, %[[L:[a-z0-9]+]]: tensor<2xi32>, %[[W:[a-z0-9]+]]: tensor<4x1x3x3xf32>, %[[B:[a-z0-9]+]]: tensor<4xf32>, %[[W2:[a-z0-9]+]]: tensor<3x4x1x1xf32>,
// CHECK-SAME: %[[VW:[a-z0-9]+]]: tensor<4x1x3x3xf32>, %[[VB:[a-z0-9]+]]: tensor<4xf32>, %[[VW2:[a-z0-9]+]]: tensor<3x4x1x1xf32>, %[[H:[a-z0-9]+]]: tensor<3xf32>, %[[SEED:[a-z0-9]+]]: i64, %[[STEP:[a-z0-9]+]]: i64)
// CHECK-SAME: -> (tensor<f32>, tensor<2x3xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>, tensor<3x4x1x1xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>, tensor<3x4x1x1xf32>)
// CHECK: %[[Y0:.*]] = nin.conv2d %[[X]], %[[W]], %[[B]] {{.*}} relu
// CHECK: %[[Y1:.*]] = nin.max_pool2d %[[Y0]]
// CHECK: %[[Y2:.*]] = nin.dropout_train %[[Y1]], %[[SEED]], %[[STEP]] rate 5.000000e-01 stream 8589934593
// CHECK: %[[Y3:.*]] = nin.conv2d %[[Y2]], %[[W2]]
// CHECK: %[[LOSS:.*]], %[[G:.*]] = nin.softmax_cross_entropy %[[LOGITS:.*]], %[[L]]
// CHECK: nin.unflatten %[[G]]
// CHECK: nin.global_avg_pool_grad
// CHECK: %[[DW2:.*]] = nin.conv2d_grad_filter %[[Y2]], %{{.*}} stride [1, 1] padding [0, 0]
// CHECK-NOT: nin.bias_grad %{{.*}} : (tensor<2x3x4x4xf32>)
// CHECK: %[[DX2:.*]] = nin.conv2d_grad_input
// CHECK: %[[DX1:.*]] = nin.dropout_train %[[DX2]], %[[SEED]], %[[STEP]] rate 5.000000e-01 stream 8589934593
// CHECK: %[[DX0:.*]] = nin.max_pool2d_grad %[[Y0]], %[[DX1]]
// CHECK: %[[DZ:.*]] = nin.relu_grad %[[DX0]], %[[Y0]]
// CHECK: %[[DW:.*]] = nin.conv2d_grad_filter %[[X]], %[[DZ]] stride [1, 1] padding [1, 1]
// CHECK: %[[DB:.*]] = nin.bias_grad %[[DZ]]
// No gradient for the image batch:
// CHECK-NOT: nin.conv2d_grad_input %[[DZ]]
// CHECK: nin.sgd_update %[[W]], %[[DW]], %[[VW]], %[[H]]
// CHECK: nin.sgd_update %[[B]], %[[DB]], %[[VB]], %[[H]]
// CHECK: nin.sgd_update %[[W2]], %[[DW2]], %[[VW2]], %[[H]]
// CHECK: return %[[LOSS]], %[[LOGITS]],

// -----

// A value with two users is not a chain.
func.func @fork_infer(%x: tensor<1x1x4x4xf32>, %w: tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32> {
  // expected-error@+1 {{expected each value to have one user (a chain of layers)}}
  %0 = nin.conv2d %x, %w stride [1, 1] padding [0, 0] : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32>
  %1 = nin.relu %0 : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %2 = nin.relu %0 : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  return %1 : tensor<1x2x4x4xf32>
}
