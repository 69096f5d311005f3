
func.func @reshape_count(%a: tensor<2x3xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{tl::reshape: cannot view [2, 3] (6 elements) as [4, 2] (8 elements)}}
  %0 = tl.reshape %a {dims = [:i64 4, 2]} : (tensor<2x3xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

