
func.func @grad_count(%l: tensor<f32>, %x: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.grad' op has 1 result(s) for 2 wrt operand(s)}}
  %0 = tl.grad %l, %l, %x, %x : (tensor<f32>, tensor<f32>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

