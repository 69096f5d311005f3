
func.func @conv_backward_input_shape(%dy: tensor<1x4x2x2xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x3x5x5xf32> {
  // expected-error @+1 {{tl::conv2d_backward_input: dout must have conv2d's output shape [1, 4, 3, 3]}}
  %0 = tl.conv2d_backward_input %dy, %w {stride = [:i64 1, 1], padding = [:i64 0, 0], dilation = [:i64 1, 1], count = 1 : i64, dims = [:i64 1, 3, 5, 5]} : (tensor<1x4x2x2xf32>, tensor<4x3x3x3xf32>) -> tensor<1x3x5x5xf32>
  return %0 : tensor<1x3x5x5xf32>
}

