
func.func @dead_pure_ops_go(%x: tensor<3xf32>, %l: tensor<f32>, %rng: tensor<2xi64>) -> tensor<3xf32> {
  %unused = tl.mul %x, %x : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %noise = tl.random %rng {dims = [:i64 3]} : (tensor<2xi64>) -> tensor<3xf32>
  %c = tl.constant dense<1.0> : tensor<3xf32>
  %g = tl.grad %l, %l, %x : (tensor<f32>, tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
  tl.assign %x, %x {flag} : tensor<3xf32>, tensor<3xf32>
  tl.guard %l {scalar = 2.0 : f64} : tensor<f32>
  return %x : tensor<3xf32>
}

