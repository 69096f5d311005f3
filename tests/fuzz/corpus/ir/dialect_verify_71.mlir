
func.func @clamp_bounds(%a: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{tl::clamp: min 2.000000 is greater than max 1.000000}}
  %0 = tl.clamp %a {flag, flag2, scalar = 2.0 : f64, scalar2 = 1.0 : f64} : (tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}
