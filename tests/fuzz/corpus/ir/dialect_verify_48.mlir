
func.func @reshape_negative(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{tl::reshape: dims [-1, 3] is not a shape (sizes must be >= 0}}
  %0 = tl.reshape %a {dims = [:i64 -1, 3]} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

