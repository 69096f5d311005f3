// RUN: tl-opt %s -split-input-file -tl-transpose-matmul -canonicalize | FileCheck %s

// The gradient of a Linear weight: (x^T dy)^T becomes dy^T x, and the transpose of the
// transpose of x is x itself.
// CHECK-LABEL: func.func @weight_grad
// CHECK: %[[DYT:.*]] = tl.permute %arg1 {perm = [:i64 1, 0]} : (tensor<8x16xf32>) -> tensor<16x8xf32>
// CHECK: %[[G:.*]] = tl.matmul %[[DYT]], %arg0 : (tensor<16x8xf32>, tensor<8x4xf32>) -> tensor<16x4xf32>
// CHECK-NOT: tl.permute
// CHECK: return %[[G]]
func.func @weight_grad(%x: tensor<8x4xf32>, %dy: tensor<8x16xf32>) -> tensor<16x4xf32> {
  %xt = tl.permute %x {perm = [:i64 1, 0]} : (tensor<8x4xf32>) -> tensor<4x8xf32>
  %g = tl.matmul %xt, %dy : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %gt = tl.permute %g {perm = [:i64 1, 0]} : (tensor<4x16xf32>) -> tensor<16x4xf32>
  return %gt : tensor<16x4xf32>
}

// -----

// A matmul whose result is also used untransposed stays as it is.
// CHECK-LABEL: func.func @shared
// CHECK: %[[M:.*]] = tl.matmul %arg0, %arg1
// CHECK: tl.permute %[[M]]
func.func @shared(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> (tensor<2x4xf32>, tensor<4x2xf32>) {
  %m = tl.matmul %a, %b : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  %t = tl.permute %m {perm = [:i64 1, 0]} : (tensor<2x4xf32>) -> tensor<4x2xf32>
  return %m, %t : tensor<2x4xf32>, tensor<4x2xf32>
}
