
func.func @boundaries(%x: tensor<4x4xf32>, %w: tensor<4x4xf32>, %i: tensor<3xi64>) -> (tensor<f32>, tensor<3xi64>) {
  %0 = tl.matmul %x, %w : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  %1 = tl.relu %0 : (tensor<4x4xf32>) -> tensor<4x4xf32>
  %2 = tl.sqrt %1 : (tensor<4x4xf32>) -> tensor<4x4xf32>
  %3 = tl.sum %2 {dims = [:i64 0, 1]} : (tensor<4x4xf32>) -> tensor<f32>
  %4 = tl.exp %3 : (tensor<f32>) -> tensor<f32>
  %5 = tl.add %i, %i : (tensor<3xi64>, tensor<3xi64>) -> tensor<3xi64>
  return %4, %5 : tensor<f32>, tensor<3xi64>
}

