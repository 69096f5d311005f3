
func.func @effects_do_not_merge(%x: tensor<3xf32>, %l: tensor<f32>) -> (tensor<3xf32>, tensor<3xf32>) {
  %g0 = tl.grad %l, %l, %x : (tensor<f32>, tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
  %g1 = tl.grad %l, %l, %x : (tensor<f32>, tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
  tl.assign %x, %g0 : tensor<3xf32>, tensor<3xf32>
  tl.assign %x, %g0 : tensor<3xf32>, tensor<3xf32>
  tl.guard %l {scalar = 1.0 : f64} : tensor<f32>
  tl.guard %l {scalar = 1.0 : f64} : tensor<f32>
  return %g0, %g1 : tensor<3xf32>, tensor<3xf32>
}

