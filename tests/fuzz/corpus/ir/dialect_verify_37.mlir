
func.func @cat_dtypes(%a: tensor<2xf32>, %b: tensor<2xf64>) -> tensor<4xf32> {
  // expected-error @+1 {{tl::cat: operands must share one dtype}}
  %0 = tl.cat %a, %b : (tensor<2xf32>, tensor<2xf64>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

