// RUN: tl-opt %s -split-input-file -tl-matmul-epilogue | FileCheck %s

// A Linear layer and its relu: one matmul_bias with the relu folded.
// CHECK-LABEL: func.func @linear_relu
// CHECK: %[[Y:.*]] = tl.matmul_bias %arg0, %arg1, %arg2 {relu} : (tensor<8x4xf32>, tensor<4x16xf32>, tensor<16xf32>) -> tensor<8x16xf32>
// CHECK-NOT: tl.add
// CHECK-NOT: tl.relu
// CHECK: return %[[Y]]
func.func @linear_relu(%x: tensor<8x4xf32>, %w: tensor<4x16xf32>, %b: tensor<16xf32>) -> tensor<8x16xf32> {
  %m = tl.matmul %x, %w : (tensor<8x4xf32>, tensor<4x16xf32>) -> tensor<8x16xf32>
  %a = tl.add %m, %b : (tensor<8x16xf32>, tensor<16xf32>) -> tensor<8x16xf32>
  %r = tl.relu %a : (tensor<8x16xf32>) -> tensor<8x16xf32>
  return %r : tensor<8x16xf32>
}

// -----

// Bias first, and the add's result used twice: the relu stays separate.
// CHECK-LABEL: func.func @bias_first
// CHECK: %[[Y:.*]] = tl.matmul_bias %arg0, %arg1, %arg2 : (tensor<8x4xf32>, tensor<4x16xf32>, tensor<16xf32>) -> tensor<8x16xf32>
// CHECK: tl.relu %[[Y]]
func.func @bias_first(%x: tensor<8x4xf32>, %w: tensor<4x16xf32>, %b: tensor<16xf32>) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
  %m = tl.matmul %x, %w : (tensor<8x4xf32>, tensor<4x16xf32>) -> tensor<8x16xf32>
  %a = tl.add %b, %m : (tensor<16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
  %r = tl.relu %a : (tensor<8x16xf32>) -> tensor<8x16xf32>
  return %a, %r : tensor<8x16xf32>, tensor<8x16xf32>
}

// -----

// Left alone: the product is used elsewhere, and an add that is not a bias over columns.
// CHECK-LABEL: func.func @not_epilogues
// CHECK-NOT: tl.matmul_bias
// CHECK: return
func.func @not_epilogues(%x: tensor<8x4xf32>, %w: tensor<4x16xf32>, %b: tensor<16xf32>, %c: tensor<8x1xf32>)
    -> (tensor<8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>) {
  %m = tl.matmul %x, %w : (tensor<8x4xf32>, tensor<4x16xf32>) -> tensor<8x16xf32>
  %a = tl.add %m, %b : (tensor<8x16xf32>, tensor<16xf32>) -> tensor<8x16xf32>
  %m2 = tl.matmul %x, %w : (tensor<8x4xf32>, tensor<4x16xf32>) -> tensor<8x16xf32>
  %a2 = tl.add %m2, %c : (tensor<8x16xf32>, tensor<8x1xf32>) -> tensor<8x16xf32>
  return %m, %a, %a2 : tensor<8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>
}
