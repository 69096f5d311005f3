// RUN: tl-opt %s -split-input-file -tl-fold | FileCheck %s
// RUN: tl-opt %s -split-input-file -tl-fold -cse -canonicalize | FileCheck %s --check-prefix=OPT

// An op on constants becomes the constant the eager kernel computes, broadcasting included;
// its operands go away when nothing else reads them.
// CHECK-LABEL: func.func @broadcast_add
// CHECK-NEXT: %[[C:.*]] = tl.constant dense<{{\[}}[1.500000e+00, 1.000000e+00, 5.000000e+00], [4.500000e+00, 4.000000e+00, 8.000000e+00]]> : tensor<2x3xf32>
// CHECK-NEXT: return %[[C]]
func.func @broadcast_add() -> tensor<2x3xf32> {
  %a = tl.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %b = tl.constant dense<[0.5, -1.0, 2.0]> : tensor<3xf32>
  %c = tl.add %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %c : tensor<2x3xf32>
}

// -----

// Chains fold step by step; attributes (dims, keepdim) and view ops (permute) are honoured.
// CHECK-LABEL: func.func @chain
// CHECK-NEXT: %[[S:.*]] = tl.constant dense<{{\[}}[6.000000e+00], [1.500000e+01]]> : tensor<2x1xf32>
// CHECK-NEXT: %[[T:.*]] = tl.constant dense<{{\[}}[1, 4], [2, 5], [3, 6]]> : tensor<3x2xi64>
// CHECK-NEXT: return %[[S]], %[[T]]
func.func @chain() -> (tensor<2x1xf32>, tensor<3x2xi64>) {
  %a = tl.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %s = tl.sum %a {dims = [:i64 1], keepdim} : (tensor<2x3xf32>) -> tensor<2x1xf32>
  %i = tl.cast %a {dtype = i64} : (tensor<2x3xf32>) -> tensor<2x3xi64>
  %t = tl.permute %i {perm = [:i64 1, 0]} : (tensor<2x3xi64>) -> tensor<3x2xi64>
  return %s, %t : tensor<2x1xf32>, tensor<3x2xi64>
}

// -----

// An op with a non-constant operand stays, and so does the constant it reads.
// CHECK-LABEL: func.func @not_constant
// CHECK-NEXT: %[[C:.*]] = tl.constant dense<2.000000e+00> : tensor<3xf32>
// CHECK-NEXT: %[[M:.*]] = tl.mul %arg0, %[[C]]
// CHECK-NEXT: return %[[M]]
func.func @not_constant(%arg0: tensor<3xf32>) -> tensor<3xf32> {
  %c = tl.constant dense<2.0> : tensor<3xf32>
  %m = tl.mul %arg0, %c : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %m : tensor<3xf32>
}

// -----

// Results above the size limit (1M elements) are computed at run time, not stored in the IR.
// CHECK-LABEL: func.func @too_big
// CHECK: tl.expand
// OPT-LABEL: func.func @too_big
// OPT: tl.expand
func.func @too_big() -> tensor<2048x1024xf32> {
  %c = tl.constant dense<1.0> : tensor<1xf32>
  %e = tl.expand %c {shape = [:i64 2048, 1024]} : (tensor<1xf32>) -> tensor<2048x1024xf32>
  return %e : tensor<2048x1024xf32>
}

// -----

// Equal elements fold to a splat.
// CHECK-LABEL: func.func @splat
// CHECK-NEXT: %[[C:.*]] = tl.constant dense<true> : tensor<4xi1>
// CHECK-NEXT: return %[[C]]
func.func @splat() -> tensor<4xi1> {
  %c = tl.constant dense<false> : tensor<4xi1>
  %n = tl.logical_not %c : (tensor<4xi1>) -> tensor<4xi1>
  return %n : tensor<4xi1>
}

// -----

// Exact identities go: x * 1 (either side), x / 1, x - 0 and x + (-0.0), and x + 0 on integers.
// CHECK-LABEL: func.func @identities
// CHECK-NOT: tl.mul
// CHECK-NOT: tl.div
// CHECK-NOT: tl.sub
// CHECK: %[[I:.*]] = tl.cast
// CHECK-NEXT: return %arg0, %arg0, %arg0, %arg0, %arg0, %[[I]]
func.func @identities(%arg0: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xi32>) {
  %one = tl.constant dense<1.0> : tensor<f32>
  %zero = tl.constant dense<0.0> : tensor<3xf32>
  %nzero = tl.constant dense<-0.0> : tensor<3xf32>
  %izero = tl.constant dense<0> : tensor<i32>
  %a = tl.mul %arg0, %one : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
  %b = tl.mul %one, %arg0 : (tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
  %c = tl.div %arg0, %one : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
  %d = tl.sub %arg0, %zero : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %e = tl.add %nzero, %arg0 : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %i = tl.cast %arg0 {dtype = i32} : (tensor<3xf32>) -> tensor<3xi32>
  %f = tl.add %i, %izero : (tensor<3xi32>, tensor<i32>) -> tensor<3xi32>
  return %a, %b, %c, %d, %e, %f : tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xi32>
}

// -----

// Not identities: x + 0.0 turns -0.0 into +0.0, and a broadcast changes the shape.
// CHECK-LABEL: func.func @not_identities
// CHECK: tl.add
// CHECK: tl.mul
func.func @not_identities(%arg0: tensor<3xf32>) -> (tensor<3xf32>, tensor<2x3xf32>) {
  %zero = tl.constant dense<0.0> : tensor<3xf32>
  %ones = tl.constant dense<1.0> : tensor<2x3xf32>
  %a = tl.add %arg0, %zero : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %b = tl.mul %arg0, %ones : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %a, %b : tensor<3xf32>, tensor<2x3xf32>
}
