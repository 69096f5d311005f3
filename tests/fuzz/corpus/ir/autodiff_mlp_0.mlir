
func.func @mlp(%x: tensor<8x4xf32>, %w1: tensor<4x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x1xf32>,
               %y: tensor<8x1xf32>) -> (tensor<f32>, tensor<4x16xf32>, tensor<16xf32>, tensor<16x1xf32>) {
  %h0 = tl.matmul %x, %w1 : (tensor<8x4xf32>, tensor<4x16xf32>) -> tensor<8x16xf32>
  %h1 = tl.add %h0, %b1 : (tensor<8x16xf32>, tensor<16xf32>) -> tensor<8x16xf32>
  %h = tl.relu %h1 : (tensor<8x16xf32>) -> tensor<8x16xf32>
  %p = tl.matmul %h, %w2 : (tensor<8x16xf32>, tensor<16x1xf32>) -> tensor<8x1xf32>
  %d = tl.sub %p, %y : (tensor<8x1xf32>, tensor<8x1xf32>) -> tensor<8x1xf32>
  %sq = tl.mul %d, %d : (tensor<8x1xf32>, tensor<8x1xf32>) -> tensor<8x1xf32>
  %loss = tl.sum %sq {dims = [:i64 0, 1]} : (tensor<8x1xf32>) -> tensor<f32>
  %seed = tl.constant dense<1.000000e+00> : tensor<f32>
  %g:3 = tl.grad %loss, %seed, %w1, %b1, %w2 : (tensor<f32>, tensor<f32>, tensor<4x16xf32>, tensor<16xf32>, tensor<16x1xf32>) -> (tensor<4x16xf32>, tensor<16xf32>, tensor<16x1xf32>)
  return %loss, %g#0, %g#1, %g#2 : tensor<f32>, tensor<4x16xf32>, tensor<16xf32>, tensor<16x1xf32>
}

