
func.func @chain(%x: tensor<4x8xf32>, %a: tensor<4x8xf32>, %b: tensor<8xf32>) -> tensor<4x8xf32> {
  %h = tl.constant dense<0.5> : tensor<f32>
  %0 = tl.mul %x, %a : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %1 = tl.add %0, %b : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %2 = tl.mul %1, %h : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %3 = tl.gelu %2 : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %3 : tensor<4x8xf32>
}

