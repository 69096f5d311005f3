
func.func @slice_backward_shape(%d: tensor<2x2xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{tl::slice_backward: the gradient is [2, 2] but slicing dims [2, 3] gives [2, 1]}}
  %0 = tl.slice_backward %d {axis = 1 : i64, count = 1 : i64, scalar = 2.0 : f64, stride = [:i64 1], dims = [:i64 2, 3]} : (tensor<2x2xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

