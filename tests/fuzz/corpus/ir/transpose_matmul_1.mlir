
func.func @shared(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> (tensor<2x4xf32>, tensor<4x2xf32>) {
  %m = tl.matmul %a, %b : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  %t = tl.permute %m {dims = [:i64 1, 0]} : (tensor<2x4xf32>) -> tensor<4x2xf32>
  return %m, %t : tensor<2x4xf32>, tensor<4x2xf32>
}
