// MLIR's generic passes treat tl ops by their traits: registry ops, tl.constant and
// tl.random are pure (CSE merges equal ones, canonicalize drops unused ones); tl.grad,
// tl.assign and tl.guard have side effects and are neither merged nor removed.
// RUN: tl-opt %s -split-input-file -cse | FileCheck %s --check-prefix=CSE
// RUN: tl-opt %s -split-input-file -canonicalize | FileCheck %s --check-prefix=CANON

// Two equal adds become one.
// CSE-LABEL: func.func @equal_ops_merge
// CSE: %[[SUM:.*]] = tl.add %arg0, %arg1
// CSE-NOT: tl.add
// CSE: return %[[SUM]], %[[SUM]]
func.func @equal_ops_merge(%a: tensor<2x3xf32>, %b: tensor<3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %0 = tl.add %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %1 = tl.add %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %0, %1 : tensor<2x3xf32>, tensor<2x3xf32>
}

// -----

// Ops that differ only in an attribute stay apart.
// CSE-LABEL: func.func @attributes_keep_ops_apart
// CSE: tl.sum %arg0 {dims = [:i64 0], keepdim}
// CSE: tl.sum %arg0 {dims = [:i64 0]}
func.func @attributes_keep_ops_apart(%a: tensor<2x3xf32>) -> (tensor<1x3xf32>, tensor<3xf32>) {
  %0 = tl.sum %a {dims = [:i64 0], keepdim} : (tensor<2x3xf32>) -> tensor<1x3xf32>
  %1 = tl.sum %a {dims = [:i64 0]} : (tensor<2x3xf32>) -> tensor<3xf32>
  return %0, %1 : tensor<1x3xf32>, tensor<3xf32>
}

// -----

// Draws at different counter offsets are different numbers and stay apart; a draw repeated
// at the same offset is the same numbers and merges.
// CSE-LABEL: func.func @random_offsets
// CSE: %[[R0:.*]] = tl.random %arg0 {dtype = f32, shape = [:i64 4]}
// CSE: %[[R1:.*]] = tl.random %arg0 {dtype = f32, offset = 4 : i64, shape = [:i64 4]}
// CSE-NOT: tl.random
// CSE: return %[[R0]], %[[R1]], %[[R0]]
func.func @random_offsets(%rng: tensor<2xi64>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %0 = tl.random %rng {dtype = f32, shape = [:i64 4]} : (tensor<2xi64>) -> tensor<4xf32>
  %1 = tl.random %rng {dtype = f32, offset = 4 : i64, shape = [:i64 4]} : (tensor<2xi64>) -> tensor<4xf32>
  %2 = tl.random %rng {dtype = f32, shape = [:i64 4]} : (tensor<2xi64>) -> tensor<4xf32>
  return %0, %1, %2 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// Ops with side effects are never merged, even when equal.
// CSE-LABEL: func.func @effects_do_not_merge
// CSE-COUNT-2: tl.grad
// CSE-COUNT-2: tl.assign
// CSE-COUNT-2: tl.guard
func.func @effects_do_not_merge(%x: tensor<3xf32>, %l: tensor<f32>) -> (tensor<3xf32>, tensor<3xf32>) {
  %g0 = tl.grad %l, %l, %x : (tensor<f32>, tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
  %g1 = tl.grad %l, %l, %x : (tensor<f32>, tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
  tl.assign %x, %g0 : tensor<3xf32>, tensor<3xf32>
  tl.assign %x, %g0 : tensor<3xf32>, tensor<3xf32>
  tl.guard %l {value = 1.0 : f64} : tensor<f32>
  tl.guard %l {value = 1.0 : f64} : tensor<f32>
  return %g0, %g1 : tensor<3xf32>, tensor<3xf32>
}

// -----

// Unused pure ops go; ops with side effects stay even when nothing reads their results.
// CANON-LABEL: func.func @dead_pure_ops_go
// CANON-NOT: tl.mul
// CANON-NOT: tl.random
// CANON-NOT: tl.constant
// CANON: tl.grad
// CANON: tl.assign %arg0, %arg0 {to_grad}
// CANON: tl.guard %arg1 {value = 2.000000e+00 : f64}
// CANON: return %arg0
func.func @dead_pure_ops_go(%x: tensor<3xf32>, %l: tensor<f32>, %rng: tensor<2xi64>) -> tensor<3xf32> {
  %unused = tl.mul %x, %x : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %noise = tl.random %rng {dtype = f32, shape = [:i64 3]} : (tensor<2xi64>) -> tensor<3xf32>
  %c = tl.constant dense<1.0> : tensor<3xf32>
  %g = tl.grad %l, %l, %x : (tensor<f32>, tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
  tl.assign %x, %x {to_grad} : tensor<3xf32>, tensor<3xf32>
  tl.guard %l {value = 2.0 : f64} : tensor<f32>
  return %x : tensor<3xf32>
}

// -----

// canonicalize computes nothing: an add of two constants stays an add (tl-fold evaluates
// such ops with the eager kernels); equal constants are merged.
// CANON-LABEL: func.func @constants_are_not_evaluated
// CANON: %[[C:.*]] = tl.constant dense<2.000000e+00> : tensor<3xf32>
// CANON-NOT: tl.constant
// CANON: %[[S:.*]] = tl.add %[[C]], %[[C]]
// CANON: return %[[S]]
func.func @constants_are_not_evaluated() -> tensor<3xf32> {
  %a = tl.constant dense<2.0> : tensor<3xf32>
  %b = tl.constant dense<2.0> : tensor<3xf32>
  %s = tl.add %a, %b : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %s : tensor<3xf32>
}
