
func.func @slice_range(%a: tensor<2x3xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{tl::slice: the range [1, 9.000000) (count, scalar) must have integer bounds with 0 <= start <= end <= 3}}
  %0 = tl.slice %a {axis = 1 : i64, count = 1 : i64, scalar = 9.0 : f64, stride = [:i64 1]} : (tensor<2x3xf32>) -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

