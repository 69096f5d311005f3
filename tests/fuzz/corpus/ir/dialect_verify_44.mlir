
func.func @permute_repeated(%a: tensor<2x3xf32>) -> tensor<2x2xf32> {
  // expected-error @+1 {{tl::permute: dim 0 appears twice in dims [0, 0]}}
  %0 = tl.permute %a {dims = [:i64 0, 0]} : (tensor<2x3xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

