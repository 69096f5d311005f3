
func.func @div_integers(%a: tensor<3xi64>) -> tensor<3xi64> {
  // expected-error @+1 {{tl::div: the operands must be a floating-point tensor, got int64 [3]}}
  %0 = tl.div %a, %a : (tensor<3xi64>, tensor<3xi64>) -> tensor<3xi64>
  return %0 : tensor<3xi64>
}

