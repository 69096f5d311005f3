
func.func @not_epilogues(%x: tensor<8x4xf32>, %w: tensor<4x16xf32>, %b: tensor<16xf32>, %c: tensor<8x1xf32>)
    -> (tensor<8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>) {
  %m = tl.matmul %x, %w : (tensor<8x4xf32>, tensor<4x16xf32>) -> tensor<8x16xf32>
  %a = tl.add %m, %b : (tensor<8x16xf32>, tensor<16xf32>) -> tensor<8x16xf32>
  %m2 = tl.matmul %x, %w : (tensor<8x4xf32>, tensor<4x16xf32>) -> tensor<8x16xf32>
  %a2 = tl.add %m2, %c : (tensor<8x16xf32>, tensor<8x1xf32>) -> tensor<8x16xf32>
  return %m, %a, %a2 : tensor<8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>
}
