
func.func @reduce_dim_negative(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{tl::sum: dim -1 in dims [-1] is out of range}}
  %0 = tl.sum %a {dims = [:i64 -1]} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

