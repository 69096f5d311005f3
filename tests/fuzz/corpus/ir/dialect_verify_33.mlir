
func.func @log_softmax_scalar(%a: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{tl::log_softmax: axis 0 names no dim of a 0-d tensor}}
  %0 = tl.softmax %a {flag} : (tensor<f32>) -> tensor<f32>
  return %0 : tensor<f32>
}

