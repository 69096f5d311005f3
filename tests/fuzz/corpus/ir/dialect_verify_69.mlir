
func.func @exp_integers(%a: tensor<3xi64>) -> tensor<3xi64> {
  // expected-error @+1 {{tl::exp: the input must be a floating-point tensor, got int64 [3]}}
  %0 = tl.exp %a : (tensor<3xi64>) -> tensor<3xi64>
  return %0 : tensor<3xi64>
}

