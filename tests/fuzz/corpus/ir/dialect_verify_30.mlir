
func.func @argmax_two_dims(%a: tensor<2x3xf32>) -> tensor<i64> {
  // expected-error @+1 {{tl::argmax: reduces one dim, got dims [0, 1]}}
  %0 = tl.argmax %a {dims = [:i64 0, 1]} : (tensor<2x3xf32>) -> tensor<i64>
  return %0 : tensor<i64>
}

