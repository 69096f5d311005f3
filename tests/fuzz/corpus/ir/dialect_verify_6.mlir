
func.func @unknown_attribute(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'tl.sum' op has unknown attribute 'dim'}}
  %0 = tl.sum %a {dims = [:i64 1], dim = [:i64 1]} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

