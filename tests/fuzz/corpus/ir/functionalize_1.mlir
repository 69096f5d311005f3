
func.func @read_after_assign(%arg0: tensor<3xf32> {tl.input = "argument", tl.name = "arg0"},
                             %arg1: tensor<3xf32> {tl.input = "capture", tl.name = "w"}) -> (tensor<3xf32>, tensor<3xf32>) {
  tl.assign %arg1, %arg0 : tensor<3xf32>, tensor<3xf32>
  %y = tl.add %arg1, %arg1 : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %y, %arg1 : tensor<3xf32>, tensor<3xf32>
}

