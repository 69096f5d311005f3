
func.func @wrong_arity(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'tl.add' op takes 2 operand(s), got 1}}
  %0 = tl.add %a : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

