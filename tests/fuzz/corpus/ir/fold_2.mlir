
func.func @not_constant(%arg0: tensor<3xf32>) -> tensor<3xf32> {
  %c = tl.constant dense<2.0> : tensor<3xf32>
  %m = tl.mul %arg0, %c : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %m : tensor<3xf32>
}

