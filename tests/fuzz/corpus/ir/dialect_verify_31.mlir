
func.func @mean_of_integers(%a: tensor<3xi64>) -> tensor<i64> {
  // expected-error @+1 {{tl::mean: the input must be a floating-point tensor, got int64 [3]}}
  %0 = tl.sum %a {dims = [:i64 0], flag} : (tensor<3xi64>) -> tensor<i64>
  return %0 : tensor<i64>
}

