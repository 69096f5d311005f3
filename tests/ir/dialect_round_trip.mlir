// The tl dialect's textual form parses and prints back unchanged, in the custom and in the
// generic form.
// RUN: tl-opt %s -split-input-file | tl-opt -split-input-file | FileCheck %s
// RUN: tl-opt %s -split-input-file -mlir-print-op-generic | tl-opt -split-input-file | FileCheck %s

// Registry ops with each kind of attribute: arrays (dims, stride, padding, dilation),
// integers (axis, count), floats (scalar, scalar2), units (keepdim, flag, flag2) and dtype.
// CHECK-LABEL: func.func @registry_ops
func.func @registry_ops(%a: tensor<2x3xf32>, %b: tensor<3xf32>, %m: tensor<3x4xf32>, %c: tensor<2x3xi1>,
                        %labels: tensor<5xi64>, %x: tensor<1x2x5x5xf32>, %w: tensor<4x2x3x3xf32>)
    -> (tensor<2x3xf32>, tensor<2x4xf32>, tensor<2x1xf32>, tensor<2x3xf32>, tensor<2x3xf16>,
        tensor<2x3xf32>, tensor<1x4x3x3xf32>, tensor<3x2xf32>, tensor<2x3xf32>, tensor<5x10xf32>) {
  // CHECK: %[[ADD:.*]] = tl.add %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %0 = tl.add %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: tl.matmul %[[ADD]], %{{.*}} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  %1 = tl.matmul %0, %m : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  // CHECK: tl.sum %{{.*}} {dims = [:i64 1], flag, keepdim} : (tensor<2x3xf32>) -> tensor<2x1xf32>
  %2 = tl.sum %a {dims = [:i64 1], keepdim, flag} : (tensor<2x3xf32>) -> tensor<2x1xf32>
  // CHECK: tl.softmax %{{.*}} {axis = 1 : i64, flag} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %3 = tl.softmax %a {axis = 1 : i64, flag} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: tl.cast %{{.*}} {dtype = f16} : (tensor<2x3xf32>) -> tensor<2x3xf16>
  %4 = tl.cast %a {dtype = f16} : (tensor<2x3xf32>) -> tensor<2x3xf16>
  // CHECK: tl.clamp %{{.*}} {flag, flag2, scalar = -1.000000e+00 : f64, scalar2 = 5.000000e-01 : f64}
  %5 = tl.clamp %a {flag, flag2, scalar = -1.0 : f64, scalar2 = 0.5 : f64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: tl.conv2d %{{.*}}, %{{.*}} {count = 1 : i64, dilation = [:i64 1, 1], padding = [:i64 1, 0], stride = [:i64 2, 1]}
  // CHECK-SAME: (tensor<1x2x5x5xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x3x3xf32>
  %6 = tl.conv2d %x, %w {stride = [:i64 2, 1], padding = [:i64 1, 0], dilation = [:i64 1, 1], count = 1 : i64}
      : (tensor<1x2x5x5xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x3x3xf32>
  // CHECK: tl.permute %{{.*}} {dims = [:i64 1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %7 = tl.permute %a {dims = [:i64 1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  // CHECK: tl.where %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %8 = tl.where %c, %a, %b : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: tl.one_hot %{{.*}} {count = 10 : i64} : (tensor<5xi64>) -> tensor<5x10xf32>
  %9 = tl.one_hot %labels {count = 10 : i64} : (tensor<5xi64>) -> tensor<5x10xf32>
  return %0, %1, %2, %3, %4, %5, %6, %7, %8, %9 : tensor<2x3xf32>, tensor<2x4xf32>, tensor<2x1xf32>, tensor<2x3xf32>,
      tensor<2x3xf16>, tensor<2x3xf32>, tensor<1x4x3x3xf32>, tensor<3x2xf32>, tensor<2x3xf32>, tensor<5x10xf32>
}

// -----

// The structural ops, and the attributes of a traced function's arguments and results:
// what each argument stands for, which results are written back to an input (or its
// .grad), and how many Philox counters a call consumes.
// CHECK-LABEL: func.func @structural
// CHECK-SAME: (%[[X:.*]]: tensor<3xf32> {tl.arg_index = 0 : i64, tl.input = "argument", tl.name = "arg0"},
// CHECK-SAME: %[[W:.*]]: tensor<3xf32> {tl.input = "capture", tl.name = "capture1"},
// CHECK-SAME: %[[WG:.*]]: tensor<3xf32> {tl.input = "grad_of", tl.name = "grad2"},
// CHECK-SAME: %[[RNG:.*]]: tensor<2xi64> {tl.input = "rng", tl.name = "rng"})
// CHECK-SAME: -> (tensor<f32>, tensor<3xf32> {tl.writeback = 1 : i64}, tensor<3xf32> {tl.to_grad, tl.writeback = 1 : i64})
// CHECK-SAME: attributes {tl.rng_advance = 8 : i64}
func.func @structural(%x: tensor<3xf32> {tl.input = "argument", tl.name = "arg0", tl.arg_index = 0 : i64},
                      %w: tensor<3xf32> {tl.input = "capture", tl.name = "capture1"},
                      %wg: tensor<3xf32> {tl.input = "grad_of", tl.name = "grad2"},
                      %rng: tensor<2xi64> {tl.input = "rng", tl.name = "rng"})
    -> (tensor<f32>, tensor<3xf32> {tl.writeback = 1 : i64}, tensor<3xf32> {tl.writeback = 1 : i64, tl.to_grad})
    attributes {tl.rng_advance = 8 : i64} {
  // CHECK: %[[C:.*]] = tl.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00]> : tensor<3xf32>
  %c = tl.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  // CHECK: tl.constant dense<0> : tensor<2x2xi64>
  %ci = tl.constant dense<0> : tensor<2x2xi64>
  // CHECK: tl.random %[[RNG]] {axis = 4 : i64, count = 1 : i64, dims = [:i64 3], scalar2 = 1.000000e+00 : f64} : (tensor<2xi64>) -> tensor<3xf32>
  %noise = tl.random %rng {count = 1 : i64, dims = [:i64 3], scalar2 = 1.0 : f64, axis = 4 : i64} : (tensor<2xi64>) -> tensor<3xf32>
  // CHECK: tl.random %[[RNG]] {count = 3 : i64, dims = [:i64 2], dtype = i64, scalar2 = 1.000000e+01 : f64} : (tensor<2xi64>) -> tensor<2xi64>
  %ints = tl.random %rng {count = 3 : i64, dims = [:i64 2], dtype = i64, scalar2 = 10.0 : f64} : (tensor<2xi64>) -> tensor<2xi64>
  %h = tl.mul %x, %w : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %h2 = tl.add %h, %noise : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %loss = tl.sum %h2 {dims = [:i64 0]} : (tensor<3xf32>) -> tensor<f32>
  %seed = tl.constant dense<1.0> : tensor<f32>
  // CHECK: %[[G:.*]]:2 = tl.grad %{{.*}}, %{{.*}}, %[[X]], %[[W]] : (tensor<f32>, tensor<f32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>)
  %g:2 = tl.grad %loss, %seed, %x, %w : (tensor<f32>, tensor<f32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>)
  // CHECK: tl.assign %[[W]], %[[G]]#1 {flag} : tensor<3xf32>, tensor<3xf32>
  tl.assign %w, %g#1 {flag} : tensor<3xf32>, tensor<3xf32>
  %w2 = tl.sub %w, %g#1 : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  // CHECK: tl.assign %[[W]], %{{.*}} : tensor<3xf32>, tensor<3xf32>
  tl.assign %w, %w2 : tensor<3xf32>, tensor<3xf32>
  // CHECK: tl.guard %{{.*}} {scalar = 2.500000e+00 : f64} : tensor<f32>
  tl.guard %loss {scalar = 2.5 : f64} : tensor<f32>
  return %loss, %w2, %g#1 : tensor<f32>, tensor<3xf32>, tensor<3xf32>
}
