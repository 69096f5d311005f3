
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
