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
  // CHECK: tl.sum %{{.*}} {dims = [:i64 1], keepdim, mean} : (tensor<2x3xf32>) -> tensor<2x1xf32>
  %2 = tl.sum %a {dims = [:i64 1], keepdim, mean} : (tensor<2x3xf32>) -> tensor<2x1xf32>
  // CHECK: tl.softmax %{{.*}} {axis = 1 : i64, log} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %3 = tl.softmax %a {axis = 1 : i64, log} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: tl.cast %{{.*}} {dtype = f16} : (tensor<2x3xf32>) -> tensor<2x3xf16>
  %4 = tl.cast %a {dtype = f16} : (tensor<2x3xf32>) -> tensor<2x3xf16>
  // CHECK: tl.clamp %{{.*}} {max = 5.000000e-01 : f64, min = -1.000000e+00 : f64}
  %5 = tl.clamp %a {max = 0.5 : f64, min = -1.0 : f64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: tl.conv2d %{{.*}}, %{{.*}} {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 1, 0], stride = [:i64 2, 1]}
  // CHECK-SAME: (tensor<1x2x5x5xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x3x3xf32>
  %6 = tl.conv2d %x, %w {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 1, 0], stride = [:i64 2, 1]}
      : (tensor<1x2x5x5xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x3x3xf32>
  // CHECK: tl.permute %{{.*}} {perm = [:i64 1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %7 = tl.permute %a {perm = [:i64 1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  // CHECK: tl.where %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %8 = tl.where %c, %a, %b : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: tl.one_hot %{{.*}} {num_classes = 10 : i64} : (tensor<5xi64>) -> tensor<5x10xf32>
  %9 = tl.one_hot %labels {num_classes = 10 : i64} : (tensor<5xi64>) -> tensor<5x10xf32>
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
  // CHECK: tl.random %[[RNG]] {b = 1.000000e+00 : f64, distribution = 1 : i64, dtype = f32, offset = 4 : i64, shape = [:i64 3]} : (tensor<2xi64>) -> tensor<3xf32>
  %noise = tl.random %rng {b = 1.0 : f64, distribution = 1 : i64, dtype = f32, offset = 4 : i64, shape = [:i64 3]} : (tensor<2xi64>) -> tensor<3xf32>
  // CHECK: tl.random %[[RNG]] {b = 1.000000e+01 : f64, distribution = 3 : i64, dtype = i64, shape = [:i64 2]} : (tensor<2xi64>) -> tensor<2xi64>
  %ints = tl.random %rng {b = 10.0 : f64, distribution = 3 : i64, dtype = i64, shape = [:i64 2]} : (tensor<2xi64>) -> tensor<2xi64>
  %h = tl.mul %x, %w : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %h2 = tl.add %h, %noise : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %loss = tl.sum %h2 {dims = [:i64 0]} : (tensor<3xf32>) -> tensor<f32>
  %seed = tl.constant dense<1.0> : tensor<f32>
  // CHECK: %[[G:.*]]:2 = tl.grad %{{.*}}, %{{.*}}, %[[X]], %[[W]] : (tensor<f32>, tensor<f32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>)
  %g:2 = tl.grad %loss, %seed, %x, %w : (tensor<f32>, tensor<f32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>)
  // CHECK: tl.assign %[[W]], %[[G]]#1 {to_grad} : tensor<3xf32>, tensor<3xf32>
  tl.assign %w, %g#1 {to_grad} : tensor<3xf32>, tensor<3xf32>
  %w2 = tl.sub %w, %g#1 : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  // CHECK: tl.assign %[[W]], %{{.*}} : tensor<3xf32>, tensor<3xf32>
  tl.assign %w, %w2 : tensor<3xf32>, tensor<3xf32>
  // CHECK: tl.guard %{{.*}} {value = 2.500000e+00 : f64} : tensor<f32>
  tl.guard %loss {value = 2.5 : f64} : tensor<f32>
  return %loss, %w2, %g#1 : tensor<f32>, tensor<3xf32>, tensor<3xf32>
}
