
func.func @broadcast_intermediate(%x: tensor<4xf32>, %y: tensor<3x4xf32>) -> tensor<3x4xf32> {
  %e = tl.exp %x : (tensor<4xf32>) -> tensor<4xf32>
  %0 = tl.add %y, %e : (tensor<3x4xf32>, tensor<4xf32>) -> tensor<3x4xf32>
  %1 = tl.log %0 : (tensor<3x4xf32>) -> tensor<3x4xf32>
  return %1 : tensor<3x4xf32>
}

