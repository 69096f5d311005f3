
func.func @splat() -> tensor<4xi1> {
  %c = tl.constant dense<false> : tensor<4xi1>
  %n = tl.logical_not %c : (tensor<4xi1>) -> tensor<4xi1>
  return %n : tensor<4xi1>
}

