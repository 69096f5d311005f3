
func.func @writeback_index(%x: tensor<2xf32>) -> (tensor<2xf32> {tl.writeback = 3 : i64}) {
  return %x : tensor<2xf32>
}

