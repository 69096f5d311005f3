
func.func @pool_backward_shape(%dy: tensor<1x2x2x2xf32>, %x: tensor<1x2x6x6xf32>) -> tensor<1x2x6x6xf32> {
  // expected-error @+1 {{tl::avg_pool2d_backward: dout must have the pooled shape [1, 2, 3, 3]}}
  %0 = tl.avg_pool2d_backward %dy, %x {dims = [:i64 2, 2], stride = [:i64 2, 2], padding = [:i64 0, 0]} : (tensor<1x2x2x2xf32>, tensor<1x2x6x6xf32>) -> tensor<1x2x6x6xf32>
  return %0 : tensor<1x2x6x6xf32>
}

