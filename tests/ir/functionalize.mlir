// RUN: tl-opt %s -split-input-file -tl-functionalize | FileCheck %s
// RUN: tl-opt %s -split-input-file -tl-functionalize -cse -canonicalize | FileCheck %s --check-prefix=OPT

// The last assign to each (input, slot) pair becomes a written-back result; earlier assigns
// to the same slot are dropped, and assigns to the .grad slot carry tl.to_grad.
// CHECK-LABEL: func.func @step
// CHECK-SAME: -> (tensor<3xf32>, tensor<3xf32> {tl.writeback = 1 : i64}, tensor<3xf32> {tl.to_grad, tl.writeback = 1 : i64})
// CHECK-NOT: tl.assign
// CHECK: %[[W1:.*]] = tl.sub %arg1
// CHECK: %[[W2:.*]] = tl.sub %[[W1]]
// CHECK: return %[[W2]], %[[W2]], %arg0
// OPT-LABEL: func.func @step
// OPT-NOT: tl.assign
func.func @step(%arg0: tensor<3xf32> {tl.input = "argument", tl.name = "arg0", tl.arg_index = 0 : i64},
                %arg1: tensor<3xf32> {tl.input = "capture", tl.name = "w"}) -> tensor<3xf32> {
  %lr = tl.constant dense<1.000000e-01> : tensor<f32>
  %step = tl.mul %arg0, %lr : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
  %w1 = tl.sub %arg1, %step : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  tl.assign %arg1, %w1 : tensor<3xf32>, tensor<3xf32>
  %w2 = tl.sub %w1, %step : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  tl.assign %arg1, %w2 : tensor<3xf32>, tensor<3xf32>
  tl.assign %arg1, %arg0 {to_grad} : tensor<3xf32>, tensor<3xf32>
  return %w2 : tensor<3xf32>
}

// -----

// An op that reads the assigned argument after the assign reads the assigned value, and
// returning the argument returns it too.
// CHECK-LABEL: func.func @read_after_assign
// CHECK-NEXT: %[[Y:.*]] = tl.add %arg0, %arg0
// CHECK-NEXT: return %[[Y]], %arg0, %arg0 : tensor<3xf32>, tensor<3xf32>, tensor<3xf32>
func.func @read_after_assign(%arg0: tensor<3xf32> {tl.input = "argument", tl.name = "arg0"},
                             %arg1: tensor<3xf32> {tl.input = "capture", tl.name = "w"}) -> (tensor<3xf32>, tensor<3xf32>) {
  tl.assign %arg1, %arg0 : tensor<3xf32>, tensor<3xf32>
  %y = tl.add %arg1, %arg1 : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %y, %arg1 : tensor<3xf32>, tensor<3xf32>
}

// -----

// A function already written back to a slot gets the new value in the same result.
// CHECK-LABEL: func.func @again
// CHECK-SAME: -> (tensor<3xf32> {tl.writeback = 1 : i64})
// CHECK-NEXT: %[[N:.*]] = tl.neg %arg0
// CHECK-NEXT: return %[[N]] : tensor<3xf32>
func.func @again(%arg0: tensor<3xf32> {tl.input = "argument", tl.name = "arg0"},
                 %arg1: tensor<3xf32> {tl.input = "capture", tl.name = "w"}) -> (tensor<3xf32> {tl.writeback = 1 : i64}) {
  %n = tl.neg %arg0 : (tensor<3xf32>) -> tensor<3xf32>
  tl.assign %arg1, %n : tensor<3xf32>, tensor<3xf32>
  return %arg0 : tensor<3xf32>
}

// -----

// A function without assigns is left as it is.
// CHECK-LABEL: func.func @pure
// CHECK-SAME: -> tensor<3xf32>
// CHECK-NEXT: tl.neg
func.func @pure(%arg0: tensor<3xf32>) -> tensor<3xf32> {
  %n = tl.neg %arg0 : (tensor<3xf32>) -> tensor<3xf32>
  return %n : tensor<3xf32>
}
