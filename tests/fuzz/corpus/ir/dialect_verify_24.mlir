
func.func @writeback_type(%x: tensor<2xf32>, %y: tensor<3xf32>) -> (tensor<3xf32> {tl.writeback = 0 : i64}) {
  return %y : tensor<3xf32>
}

