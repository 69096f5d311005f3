
func.func @conv_groups(%x: tensor<1x3x5x5xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x3x3xf32> {
  // expected-error @+1 {{tl::conv2d: groups = 0 must be positive and divide both the 3 input channels and the 4 output channels}}
  %0 = tl.conv2d %x, %w {stride = [:i64 1, 1], padding = [:i64 0, 0], dilation = [:i64 1, 1]} : (tensor<1x3x5x5xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x3x3xf32>
  return %0 : tensor<1x4x3x3xf32>
}

