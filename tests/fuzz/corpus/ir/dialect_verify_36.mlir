
func.func @cat_sizes(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{tl::cat: sizes must match except in dim 0: input 0 is [2, 3] float32, input 1 is [2, 4] float32}}
  %0 = tl.cat %a, %b : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

