
func.func @reduce_empty_dim(%a: tensor<0x3xf32>) -> tensor<3xi64> {
  // expected-error @+1 {{tl::argmin: cannot reduce over dim 0 of size 0 in [0, 3] (no identity)}}
  %0 = tl.argmax %a {dims = [:i64 0], flag2} : (tensor<0x3xf32>) -> tensor<3xi64>
  return %0 : tensor<3xi64>
}

