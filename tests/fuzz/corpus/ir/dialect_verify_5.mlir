
func.func @bad_attribute_width(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'tl.softmax' op tl.softmax: attribute 'axis' must be an i64 integer}}
  %0 = tl.softmax %a {axis = 1 : i32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

