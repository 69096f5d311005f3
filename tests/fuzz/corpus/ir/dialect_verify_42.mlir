
func.func @scatter_add_shape(%s: tensor<3x4xf32>, %i: tensor<3x4xi64>) -> tensor<2x5xf32> {
  // expected-error @+1 {{tl::scatter_add: src and index need one shape, of the rank of dims [2, 5] and no larger in any dim except 1}}
  %0 = tl.scatter_add %s, %i {axis = 1 : i64, dims = [:i64 2, 5]} : (tensor<3x4xf32>, tensor<3x4xi64>) -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

