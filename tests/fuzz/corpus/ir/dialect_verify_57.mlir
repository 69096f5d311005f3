
func.func @conv_zero_dilation(%x: tensor<1x3x5x5xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x5x3xf32> {
  // expected-error @+1 {{tl::conv2d: dilation must hold 2 values (height, width), each >= 1, got [0, 1]}}
  %0 = tl.conv2d %x, %w {stride = [:i64 1, 1], padding = [:i64 0, 0], dilation = [:i64 0, 1], count = 1 : i64} : (tensor<1x3x5x5xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x5x3xf32>
  return %0 : tensor<1x4x5x3xf32>
}

