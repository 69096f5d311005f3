
func.func @slice_axis(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{tl::slice: axis 3 is out of range for a tensor of rank 2}}
  %0 = tl.slice %a {axis = 3 : i64, scalar = 1.0 : f64, stride = [:i64 1]} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

