
func.func @weight_grad(%x: tensor<8x4xf32>, %dy: tensor<8x16xf32>) -> tensor<16x4xf32> {
  %xt = tl.permute %x {dims = [:i64 1, 0]} : (tensor<8x4xf32>) -> tensor<4x8xf32>
  %g = tl.matmul %xt, %dy : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %gt = tl.permute %g {dims = [:i64 1, 0]} : (tensor<4x16xf32>) -> tensor<16x4xf32>
  return %gt : tensor<16x4xf32>
}

