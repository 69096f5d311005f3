
func.func @pool_padding(%x: tensor<1x2x6x6xf32>) -> tensor<1x2x4x4xf32> {
  // expected-error @+1 {{tl::max_pool2d: padding [2, 2] must be at most half the kernel [2, 2]}}
  %0 = tl.max_pool2d %x {dims = [:i64 2, 2], stride = [:i64 2, 2], padding = [:i64 2, 2]} : (tensor<1x2x6x6xf32>) -> tensor<1x2x4x4xf32>
  return %0 : tensor<1x2x4x4xf32>
}

