
func.func @reduce_dim_repeated(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{tl::amax: dim 1 appears twice in dims [1, 1]}}
  %0 = tl.amax %a {dims = [:i64 1, 1]} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

