
func.func @grad_type(%l: tensor<f32>, %x: tensor<3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'tl.grad' op result #0 is 'tensor<2xf32>' but wrt #0 is 'tensor<3xf32>'}}
  %0 = tl.grad %l, %l, %x : (tensor<f32>, tensor<f32>, tensor<3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

