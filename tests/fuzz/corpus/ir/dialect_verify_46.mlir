
func.func @permute_rank(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{tl::permute: dims [0] is not a permutation of the 2 dims of [2, 3]}}
  %0 = tl.permute %a {dims = [:i64 0]} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

