
func.func @cat_axis(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{tl::cat: axis 2 is out of range for a tensor of rank 2 (expected in [0, 1])}}
  %0 = tl.cat %a, %b {axis = 2 : i64} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

