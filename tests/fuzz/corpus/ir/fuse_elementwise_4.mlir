
func.func @reduction(%x: tensor<4x8xf32>, %m: tensor<8xf32>) -> tensor<1x8xf32> {
  %0 = tl.sub %x, %m : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %1 = tl.exp %0 : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %2 = tl.sum %1 {dims = [:i64 0], flag, keepdim} : (tensor<4x8xf32>) -> tensor<1x8xf32>
  %3 = tl.log %2 : (tensor<1x8xf32>) -> tensor<1x8xf32>
  %4 = tl.neg %3 : (tensor<1x8xf32>) -> tensor<1x8xf32>
  return %4 : tensor<1x8xf32>
}

