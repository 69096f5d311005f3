
func.func @unused(%a: tensor<3xf32>, %b: tensor<3xf32>) -> tensor<3xf32> {
  %e = tl.exp %a : (tensor<3xf32>) -> tensor<3xf32>
  %l = tl.sum %e {dims = [:i64 0]} : (tensor<3xf32>) -> tensor<f32>
  %seed = tl.constant dense<1.000000e+00> : tensor<f32>
  %g = tl.grad %l, %seed, %b : (tensor<f32>, tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
  return %g : tensor<3xf32>
}
