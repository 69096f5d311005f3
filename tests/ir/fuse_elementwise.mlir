// RUN: tl-opt %s -split-input-file -tl-fuse-elementwise | FileCheck %s
// RUN: tl-opt %s -split-input-file -tl-fuse-elementwise=min-ops=1 | FileCheck %s --check-prefix=ONE
// RUN: tl-opt %s -split-input-file -tl-fuse-elementwise=row-reductions=true | FileCheck %s --check-prefix=ROWS

// A chain of elementwise ops becomes one call of a private function holding the chain; the
// bias broadcasts into it, and the scalar constant is copied in rather than passed.
// CHECK-LABEL: func.func @chain
// CHECK-NEXT: %[[R:.*]] = call @chain_fused0(%arg0, %arg1, %arg2) : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
// CHECK-NEXT: return %[[R]]
// CHECK-LABEL: func.func private @chain_fused0
// CHECK-SAME: attributes {fused = "mul+add+mul+gelu"}
// CHECK-NEXT: tl.constant dense<5.000000e-01> : tensor<f32>
// CHECK-NEXT: tl.mul %arg0, %arg1
// CHECK-NEXT: tl.add {{.*}}, %arg2
// CHECK-NEXT: tl.mul
// CHECK-NEXT: tl.gelu
// CHECK-NEXT: return
func.func @chain(%x: tensor<4x8xf32>, %a: tensor<4x8xf32>, %b: tensor<8xf32>) -> tensor<4x8xf32> {
  %h = tl.constant dense<0.5> : tensor<f32>
  %0 = tl.mul %x, %a : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %1 = tl.add %0, %b : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %2 = tl.mul %1, %h : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %3 = tl.gelu %2 : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %3 : tensor<4x8xf32>
}

// -----

// A value read outside the group ends a group: %0 is returned, so it is the root of its own
// group and the input of the next one. Shared operands inside a group (a diamond) are fine.
// CHECK-LABEL: func.func @escaping
// CHECK-NEXT: %[[A:.*]] = call @escaping_fused1(%arg0) {{.*}} -> tensor<16xf64>
// CHECK-NEXT: %[[B:.*]] = call @escaping_fused0(%[[A]]) {{.*}} -> tensor<16xf64>
// CHECK-NEXT: return %[[B]], %[[A]]
// CHECK: func.func private @escaping_fused0{{.*}}fused = "tanh+sigmoid+mul"
// CHECK: func.func private @escaping_fused1{{.*}}fused = "exp+neg"
func.func @escaping(%x: tensor<16xf64>) -> (tensor<16xf64>, tensor<16xf64>) {
  %e = tl.exp %x : (tensor<16xf64>) -> tensor<16xf64>
  %0 = tl.neg %e : (tensor<16xf64>) -> tensor<16xf64>
  %1 = tl.tanh %0 : (tensor<16xf64>) -> tensor<16xf64>
  %2 = tl.sigmoid %0 : (tensor<16xf64>) -> tensor<16xf64>
  %3 = tl.mul %1, %2 : (tensor<16xf64>, tensor<16xf64>) -> tensor<16xf64>
  return %3, %0 : tensor<16xf64>, tensor<16xf64>
}

// -----

// Groups stop at ops without an elementwise lowering (matmul), at a reduction along rows
// (sum over every dim, the innermost included) and at integer tensors; a single op is not
// worth a kernel unless min-ops=1.
// CHECK-LABEL: func.func @boundaries
// CHECK-NEXT: tl.matmul
// CHECK-NEXT: %[[G:.*]] = call @boundaries_fused0
// CHECK-NEXT: tl.sum %[[G]]
// CHECK-NEXT: tl.exp
// CHECK-NEXT: tl.add %arg2, %arg2
// CHECK: func.func private @boundaries_fused0{{.*}}fused = "relu+sqrt"
// ONE-LABEL: func.func @boundaries
// ONE: call @boundaries_fused1
// ONE: tl.sum
// ONE: call @boundaries_fused0
// ONE: tl.add %arg2, %arg2
// ONE: func.func private @boundaries_fused0{{.*}}fused = "exp"
// ROWS-LABEL: func.func @boundaries
// ROWS-NEXT: tl.matmul
// ROWS-NEXT: %[[G:.*]] = call @boundaries_fused0
// ROWS-NEXT: tl.exp %[[G]]
// ROWS: func.func private @boundaries_fused0{{.*}}fused = "relu+sqrt+sum"
func.func @boundaries(%x: tensor<4x4xf32>, %w: tensor<4x4xf32>, %i: tensor<3xi64>) -> (tensor<f32>, tensor<3xi64>) {
  %0 = tl.matmul %x, %w : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  %1 = tl.relu %0 : (tensor<4x4xf32>) -> tensor<4x4xf32>
  %2 = tl.sqrt %1 : (tensor<4x4xf32>) -> tensor<4x4xf32>
  %3 = tl.sum %2 {dims = [:i64 0, 1]} : (tensor<4x4xf32>) -> tensor<f32>
  %4 = tl.exp %3 : (tensor<f32>) -> tensor<f32>
  %5 = tl.add %i, %i : (tensor<3xi64>, tensor<3xi64>) -> tensor<3xi64>
  return %4, %5 : tensor<f32>, tensor<3xi64>
}

// -----

// An intermediate smaller than the group's output would have to be recomputed per output
// element, so it is an input instead: exp(%x) over [4] feeds the [3, 4] group.
// CHECK-LABEL: func.func @broadcast_intermediate
// CHECK-NEXT: %[[E:.*]] = tl.exp %arg0
// CHECK-NEXT: call @broadcast_intermediate_fused0(%arg1, %[[E]])
// CHECK: fused = "add+log"
func.func @broadcast_intermediate(%x: tensor<4xf32>, %y: tensor<3x4xf32>) -> tensor<3x4xf32> {
  %e = tl.exp %x : (tensor<4xf32>) -> tensor<4xf32>
  %0 = tl.add %y, %e : (tensor<3x4xf32>, tensor<4xf32>) -> tensor<3x4xf32>
  %1 = tl.log %0 : (tensor<3x4xf32>) -> tensor<3x4xf32>
  return %1 : tensor<3x4xf32>
}

// -----

// A sum or mean of a chain over outer dims ends the chain's group: one loop nest
// accumulating into the reduced output (a bias gradient's sum over the batch). Ops after the
// reduction (on the smaller shape) start another group.
// CHECK-LABEL: func.func @reduction
// CHECK-NEXT: %[[S:.*]] = call @reduction_fused1(%arg0, %arg1) : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<1x8xf32>
// CHECK-NEXT: %[[R:.*]] = call @reduction_fused0(%[[S]]) : (tensor<1x8xf32>) -> tensor<1x8xf32>
// CHECK-NEXT: return %[[R]]
// CHECK-LABEL: func.func private @reduction_fused0
// CHECK-SAME: attributes {fused = "log+neg"}
// CHECK-LABEL: func.func private @reduction_fused1
// CHECK-SAME: attributes {fused = "sub+exp+sum"}
// CHECK: tl.sum {{.*}} {dims = [:i64 0], keepdim, mean}
func.func @reduction(%x: tensor<4x8xf32>, %m: tensor<8xf32>) -> tensor<1x8xf32> {
  %0 = tl.sub %x, %m : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %1 = tl.exp %0 : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %2 = tl.sum %1 {dims = [:i64 0], keepdim, mean} : (tensor<4x8xf32>) -> tensor<1x8xf32>
  %3 = tl.log %2 : (tensor<1x8xf32>) -> tensor<1x8xf32>
  %4 = tl.neg %3 : (tensor<1x8xf32>) -> tensor<1x8xf32>
  return %4 : tensor<1x8xf32>
}

// -----

// A sum along rows stays the eager kernel: fused, it would be one scalar chain per row. With
// row-reductions (a program on CUDA, whose kernels give each row a block of threads) it ends
// the group, as does the sum over every dim above.
// CHECK-LABEL: func.func @row_sum
// CHECK-NEXT: %[[E:.*]] = call @row_sum_fused0
// CHECK-NEXT: tl.sum %[[E]] {dims = [:i64 1]}
// ROWS-LABEL: func.func @row_sum
// ROWS-NEXT: %[[S:.*]] = call @row_sum_fused0(%arg0, %arg1) : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4xf32>
// ROWS-NEXT: return %[[S]]
// ROWS: func.func private @row_sum_fused0{{.*}}fused = "sub+exp+sum"
func.func @row_sum(%x: tensor<4x8xf32>, %m: tensor<8xf32>) -> tensor<4xf32> {
  %0 = tl.sub %x, %m : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %1 = tl.exp %0 : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %2 = tl.sum %1 {dims = [:i64 1]} : (tensor<4x8xf32>) -> tensor<4xf32>
  return %2 : tensor<4xf32>
}
