
func.func @broadcast_add() -> tensor<2x3xf32> {
  %a = tl.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %b = tl.constant dense<[0.5, -1.0, 2.0]> : tensor<3xf32>
  %c = tl.add %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %c : tensor<2x3xf32>
}

