
func.func @pure(%arg0: tensor<3xf32>) -> tensor<3xf32> {
  %n = tl.neg %arg0 : (tensor<3xf32>) -> tensor<3xf32>
  return %n : tensor<3xf32>
}
