
func.func @step(%arg0: tensor<3xf32> {tl.input = "argument", tl.name = "arg0", tl.arg_index = 0 : i64},
                %arg1: tensor<3xf32> {tl.input = "capture", tl.name = "w"}) -> tensor<3xf32> {
  %lr = tl.constant dense<1.000000e-01> : tensor<f32>
  %step = tl.mul %arg0, %lr : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
  %w1 = tl.sub %arg1, %step : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  tl.assign %arg1, %w1 : tensor<3xf32>, tensor<3xf32>
  %w2 = tl.sub %w1, %step : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  tl.assign %arg1, %w2 : tensor<3xf32>, tensor<3xf32>
  tl.assign %arg1, %arg0 {flag} : tensor<3xf32>, tensor<3xf32>
  return %w2 : tensor<3xf32>
}

