
func.func @unknown_argument_attribute(%x: tensor<2xf32> {tl.foo = 1 : i64}) {
  return
}

