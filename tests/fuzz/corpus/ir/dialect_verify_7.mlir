
func.func @default_attribute(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'tl.softmax' op attribute 'axis' = 0 : i64 has its default value; leave it out}}
  %0 = tl.softmax %a {axis = 0 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

