
func.func @softmax_of_integers(%a: tensor<3xi32>) -> tensor<3xi32> {
  // expected-error @+1 {{tl::softmax: the input must be a floating-point tensor, got int32 [3]}}
  %0 = tl.softmax %a : (tensor<3xi32>) -> tensor<3xi32>
  return %0 : tensor<3xi32>
}

