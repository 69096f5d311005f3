
func.func @pool_zero_stride(%x: tensor<1x2x6x6xf32>) -> tensor<1x2x3x3xf32> {
  // expected-error @+1 {{tl::max_pool2d: stride must hold 2 values (height, width), each >= 1, got [0, 2]}}
  %0 = tl.max_pool2d %x {dims = [:i64 2, 2], stride = [:i64 0, 2]} : (tensor<1x2x6x6xf32>) -> tensor<1x2x3x3xf32>
  return %0 : tensor<1x2x3x3xf32>
}

