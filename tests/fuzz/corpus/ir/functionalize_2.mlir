
func.func @again(%arg0: tensor<3xf32> {tl.input = "argument", tl.name = "arg0"},
                 %arg1: tensor<3xf32> {tl.input = "capture", tl.name = "w"}) -> (tensor<3xf32> {tl.writeback = 1 : i64}) {
  %n = tl.neg %arg0 : (tensor<3xf32>) -> tensor<3xf32>
  tl.assign %arg1, %n : tensor<3xf32>, tensor<3xf32>
  return %arg0 : tensor<3xf32>
}

