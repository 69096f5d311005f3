
func.func @conv_negative_padding(%x: tensor<1x3x5x5xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x1x3xf32> {
  // expected-error @+1 {{tl::conv2d: padding must hold 2 values (height, width), each >= 0, got [-1, 0]}}
  %0 = tl.conv2d %x, %w {stride = [:i64 1, 1], padding = [:i64 -1, 0], dilation = [:i64 1, 1], count = 1 : i64} : (tensor<1x3x5x5xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x1x3xf32>
  return %0 : tensor<1x4x1x3xf32>
}

