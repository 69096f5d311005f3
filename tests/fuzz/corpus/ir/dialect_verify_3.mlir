
func.func @shape_rule_error(%a: tensor<2x3xf32>, %b: tensor<4xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{shapes cannot be broadcast together: input 0 is [2, 3] float32, input 1 is [4] float32}}
  %0 = tl.add %a, %b : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

