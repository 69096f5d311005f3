
func.func @row_sum(%x: tensor<4x8xf32>, %m: tensor<8xf32>) -> tensor<4xf32> {
  %0 = tl.sub %x, %m : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %1 = tl.exp %0 : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %2 = tl.sum %1 {dims = [:i64 1]} : (tensor<4x8xf32>) -> tensor<4xf32>
  return %2 : tensor<4xf32>
}
