// RUN: tl-opt %s -split-input-file -tl-conv-epilogue | FileCheck %s

// A convolution and its relu: one conv2d with the relu folded.
// CHECK-LABEL: func.func @conv_relu
// CHECK: %[[Y:.*]] = tl.conv2d %arg0, %arg1, %arg2 {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 1, 1], relu, stride = [:i64 1, 1]}
// CHECK-NOT: tl.relu
// CHECK: return %[[Y]]
func.func @conv_relu(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x8x8xf32> {
  %c = tl.conv2d %x, %w, %b {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 1, 1], stride = [:i64 1, 1]}
      : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
  %r = tl.relu %c : (tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  return %r : tensor<1x4x8x8xf32>
}

// -----

// Left alone: the convolution's result is also returned, so the relu cannot replace it.
// CHECK-LABEL: func.func @conv_used_twice
// CHECK-NOT: relu,
// CHECK: tl.relu
func.func @conv_used_twice(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> (tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>) {
  %c = tl.conv2d %x, %w {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 0, 0], stride = [:i64 1, 1]}
      : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  %r = tl.relu %c : (tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32>
  return %c, %r : tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>
}

// -----

// A residual block's end: add(conv, identity) and its relu become one conv2d with the
// residual operand and the relu flag.
// CHECK-LABEL: func.func @residual_relu
// CHECK: %[[Y:.*]] = tl.conv2d %arg0, %arg1, %arg2, %arg3 {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 1, 1], relu, stride = [:i64 1, 1]}
// CHECK-NOT: tl.add
// CHECK-NOT: tl.relu
// CHECK: return %[[Y]]
func.func @residual_relu(%x: tensor<1x4x8x8xf32>, %w: tensor<4x4x3x3xf32>, %b: tensor<4xf32>, %r: tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> {
  %c = tl.conv2d %x, %w, %b {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 1, 1], stride = [:i64 1, 1]}
      : (tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
  %a = tl.add %r, %c : (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  %y = tl.relu %a : (tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  return %y : tensor<1x4x8x8xf32>
}

// -----

// Left alone: no bias (the residual is the fourth operand), and a broadcasting add.
// CHECK-LABEL: func.func @not_residuals
// CHECK-COUNT-2: tl.add
func.func @not_residuals(%x: tensor<1x4x8x8xf32>, %w: tensor<4x4x3x3xf32>, %b: tensor<4xf32>, %r: tensor<1x4x8x8xf32>,
                         %s: tensor<1x4x1x1xf32>) -> (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) {
  %c = tl.conv2d %x, %w {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 1, 1], stride = [:i64 1, 1]}
      : (tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<1x4x8x8xf32>
  %a = tl.add %c, %r : (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  %c2 = tl.conv2d %x, %w, %b {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 1, 1], stride = [:i64 1, 1]}
      : (tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
  %a2 = tl.add %c2, %s : (tensor<1x4x8x8xf32>, tensor<1x4x1x1xf32>) -> tensor<1x4x8x8xf32>
  return %a, %a2 : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>
}
