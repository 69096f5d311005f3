
func.func @permute_out_of_range(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+1 {{tl::permute: dim 5 in dims [1, 5] is out of range for a tensor of rank 2}}
  %0 = tl.permute %a {dims = [:i64 1, 5]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

