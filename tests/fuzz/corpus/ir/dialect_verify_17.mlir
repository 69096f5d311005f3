
func.func @grad_seed(%l: tensor<f32>, %s: tensor<1xf32>, %x: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.grad' op seed is 'tensor<1xf32>' but loss is 'tensor<f32>'}}
  %0 = tl.grad %l, %s, %x : (tensor<f32>, tensor<1xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

