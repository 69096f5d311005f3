
func.func @reduce_dim_out_of_range(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{tl::sum: dim 2 in dims [2] is out of range for a tensor of rank 2 (expected in [0, 1])}}
  %0 = tl.sum %a {dims = [:i64 2]} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

