
func.func @slice_zero_step(%a: tensor<2x3xf32>) -> tensor<2x2xf32> {
  // expected-error @+1 {{tl::slice: stride must hold one step >= 1, got [0]}}
  %0 = tl.slice %a {axis = 1 : i64, scalar = 2.0 : f64, stride = [:i64 0]} : (tensor<2x3xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

