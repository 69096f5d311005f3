
func.func @expand_size(%a: tensor<2x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{tl::expand: cannot expand [2, 3] to [4, 3] (only size-1 dims grow, and new dims go in front)}}
  %0 = tl.expand %a {dims = [:i64 4, 3]} : (tensor<2x3xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

