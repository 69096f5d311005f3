
func.func @bad_attribute_kind(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'tl.sum' op tl.sum: attribute 'dims' must be an i64 array ([:i64 ...])}}
  %0 = tl.sum %a {dims = 1 : i64} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

