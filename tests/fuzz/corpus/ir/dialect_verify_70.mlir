
func.func @compare_arity(%a: tensor<3xf32>) -> tensor<3xi1> {
  // expected-error @+1 {{tl::eq: expected 2 operand(s), got 1}}
  %0 = tl.eq %a : (tensor<3xf32>) -> tensor<3xi1>
  return %0 : tensor<3xi1>
}

