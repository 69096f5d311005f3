// RUN: tl-opt %s -split-input-file -tl-autodiff | FileCheck %s
// RUN: tl-opt %s -split-input-file -tl-autodiff -canonicalize -cse | FileCheck %s --check-prefix=CLEAN

// Reverse mode through a two-layer MLP with a squared-error loss. Each derivative comes
// from the op table's rule for the forward op: the matmul rule gives the matmuls with the
// other operand's transpose, relu's gives relu_backward, the broadcast bias add's gives a
// sum over the batch (the engine's sum_to), and the gradient request disappears.
// CHECK-LABEL: func.func @mlp
// CHECK-NOT: tl.grad
// CHECK: %[[DP:.*]] = tl.add {{.*}} : (tensor<8x1xf32>, tensor<8x1xf32>) -> tensor<8x1xf32>
// CHECK: %[[W2T:.*]] = tl.permute %arg3 {perm = [:i64 1, 0]}
// CHECK: %[[DH:.*]] = tl.matmul %[[DP]], %[[W2T]] : (tensor<8x1xf32>, tensor<1x16xf32>) -> tensor<8x16xf32>
// CHECK: %[[HT:.*]] = tl.permute %2 {perm = [:i64 1, 0]}
// CHECK: %[[GW2:.*]] = tl.matmul %[[HT]], %[[DP]] : (tensor<16x8xf32>, tensor<8x1xf32>) -> tensor<16x1xf32>
// CHECK: %[[DH1:.*]] = tl.relu_backward %[[DH]], %2
// CHECK: %[[SB:.*]] = tl.sum %[[DH1]] {dims = [:i64 0], keepdim} : (tensor<8x16xf32>) -> tensor<1x16xf32>
// CHECK: %[[GB1:.*]] = tl.reshape %[[SB]] {shape = [:i64 16]}
// CHECK: %[[XT:.*]] = tl.permute %arg0 {perm = [:i64 1, 0]}
// CHECK: %[[GW1:.*]] = tl.matmul %[[XT]], %[[DH1]] : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
// CHECK: return %{{.*}}, %[[GW1]], %[[GB1]], %[[GW2]] : tensor<f32>, tensor<4x16xf32>, tensor<16xf32>, tensor<16x1xf32>
// Cleaned up, the two identical products of the squared error merge and the unused
// gradient of the target (y) disappears.
// CLEAN-LABEL: func.func @mlp
// CLEAN-NOT: tl.grad
// CLEAN-NOT: tl.neg
// CLEAN-COUNT-1: tl.mul %{{.*}}, %{{.*}} : (tensor<8x1xf32>, tensor<8x1xf32>)
// CLEAN: return
func.func @mlp(%x: tensor<8x4xf32>, %w1: tensor<4x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x1xf32>,
               %y: tensor<8x1xf32>) -> (tensor<f32>, tensor<4x16xf32>, tensor<16xf32>, tensor<16x1xf32>) {
  %h0 = tl.matmul %x, %w1 : (tensor<8x4xf32>, tensor<4x16xf32>) -> tensor<8x16xf32>
  %h1 = tl.add %h0, %b1 : (tensor<8x16xf32>, tensor<16xf32>) -> tensor<8x16xf32>
  %h = tl.relu %h1 : (tensor<8x16xf32>) -> tensor<8x16xf32>
  %p = tl.matmul %h, %w2 : (tensor<8x16xf32>, tensor<16x1xf32>) -> tensor<8x1xf32>
  %d = tl.sub %p, %y : (tensor<8x1xf32>, tensor<8x1xf32>) -> tensor<8x1xf32>
  %sq = tl.mul %d, %d : (tensor<8x1xf32>, tensor<8x1xf32>) -> tensor<8x1xf32>
  %loss = tl.sum %sq {dims = [:i64 0, 1]} : (tensor<8x1xf32>) -> tensor<f32>
  %seed = tl.constant dense<1.000000e+00> : tensor<f32>
  %g:3 = tl.grad %loss, %seed, %w1, %b1, %w2 : (tensor<f32>, tensor<f32>, tensor<4x16xf32>, tensor<16xf32>, tensor<16x1xf32>) -> (tensor<4x16xf32>, tensor<16xf32>, tensor<16x1xf32>)
  return %loss, %g#0, %g#1, %g#2 : tensor<f32>, tensor<4x16xf32>, tensor<16xf32>, tensor<16x1xf32>
}

// -----

// A value the loss does not depend on gets a zero gradient.
// CHECK-LABEL: func.func @unused
// CHECK: %[[Z:.*]] = tl.constant dense<0.000000e+00> : tensor<3xf32>
// CHECK: return %[[Z]]
func.func @unused(%a: tensor<3xf32>, %b: tensor<3xf32>) -> tensor<3xf32> {
  %e = tl.exp %a : (tensor<3xf32>) -> tensor<3xf32>
  %l = tl.sum %e {dims = [:i64 0]} : (tensor<3xf32>) -> tensor<f32>
  %seed = tl.constant dense<1.000000e+00> : tensor<f32>
  %g = tl.grad %l, %seed, %b : (tensor<f32>, tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
  return %g : tensor<3xf32>
}
