
func.func @foreign_attribute(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = tl.exp %a {other.note = "kept"} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

