
func.func @input_kind(%x: tensor<2xf32> {tl.input = "param"}) {
  return
}

