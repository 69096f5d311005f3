
func.func @conv_missing_stride(%x: tensor<1x3x5x5xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x3x3xf32> {
  // expected-error @+1 {{tl::conv2d: stride must hold 2 values (height, width), each >= 1, got []}}
  %0 = tl.conv2d %x, %w {padding = [:i64 0, 0], dilation = [:i64 1, 1], count = 1 : i64} : (tensor<1x3x5x5xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x3x3xf32>
  return %0 : tensor<1x4x3x3xf32>
}

