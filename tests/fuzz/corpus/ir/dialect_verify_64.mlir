
func.func @compare_dtypes(%a: tensor<3xi32>, %b: tensor<3xi64>) -> tensor<3xi1> {
  // expected-error @+1 {{tl::lt: operands must share one dtype}}
  %0 = tl.lt %a, %b : (tensor<3xi32>, tensor<3xi64>) -> tensor<3xi1>
  return %0 : tensor<3xi1>
}

