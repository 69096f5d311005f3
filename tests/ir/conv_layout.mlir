// RUN: tl-opt %s -split-input-file -tl-conv-layout | FileCheck %s

// A chain: conv a feeds conv b as input and conv c as residual; c's result is returned.
// a's result is blocked (4), b reads a blocked input and writes blocked (1 | 4 = 5: c reads
// it), c reads a blocked input and residual and writes NCHW for the return (1 | 2 = 3).
// CHECK-LABEL: func.func @chain
// CHECK: %[[A:.*]] = tl.conv2d %arg0, %arg1, %arg2 {blocked = 4 : i64
// CHECK: %[[B:.*]] = tl.conv2d %[[A]], %arg3, %arg2 {blocked = 5 : i64
// CHECK: tl.conv2d %[[B]], %arg3, %arg2, %[[A]] {blocked = 3 : i64
func.func @chain(%x: tensor<1x3x8x8xf32>, %w1: tensor<8x3x3x3xf32>, %b: tensor<8xf32>, %w2: tensor<8x8x3x3xf32>)
    -> tensor<1x8x8x8xf32> {
  %a = tl.conv2d %x, %w1, %b {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 1, 1], stride = [:i64 1, 1]}
      : (tensor<1x3x8x8xf32>, tensor<8x3x3x3xf32>, tensor<8xf32>) -> tensor<1x8x8x8xf32>
  %bb = tl.conv2d %a, %w2, %b {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 1, 1], stride = [:i64 1, 1]}
      : (tensor<1x8x8x8xf32>, tensor<8x8x3x3xf32>, tensor<8xf32>) -> tensor<1x8x8x8xf32>
  %c = tl.conv2d %bb, %w2, %b, %a {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 1, 1], stride = [:i64 1, 1]}
      : (tensor<1x8x8x8xf32>, tensor<8x8x3x3xf32>, tensor<8xf32>, tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  return %c : tensor<1x8x8x8xf32>
}

// -----

// Left alone: a result another op reads, and one whose channels are not whole blocks of 8.
// CHECK-LABEL: func.func @not_blocked
// CHECK-NOT: blocked
// CHECK: return
func.func @not_blocked(%x: tensor<1x8x8x8xf32>, %w: tensor<8x8x3x3xf32>, %w6: tensor<6x8x3x3xf32>, %w8: tensor<8x6x3x3xf32>)
    -> (tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>) {
  %a = tl.conv2d %x, %w {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 1, 1], stride = [:i64 1, 1]}
      : (tensor<1x8x8x8xf32>, tensor<8x8x3x3xf32>) -> tensor<1x8x8x8xf32>
  %r = tl.relu %a : (tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %b = tl.conv2d %x, %w6 {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 1, 1], stride = [:i64 1, 1]}
      : (tensor<1x8x8x8xf32>, tensor<6x8x3x3xf32>) -> tensor<1x6x8x8xf32>
  %c = tl.conv2d %b, %w8 {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 1, 1], stride = [:i64 1, 1]}
      : (tensor<1x6x8x8xf32>, tensor<8x6x3x3xf32>) -> tensor<1x8x8x8xf32>
  return %r, %c : tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>
}
