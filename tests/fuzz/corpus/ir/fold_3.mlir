
func.func @too_big() -> tensor<2048x1024xf32> {
  %c = tl.constant dense<1.0> : tensor<1xf32>
  %e = tl.expand %c {dims = [:i64 2048, 1024]} : (tensor<1xf32>) -> tensor<2048x1024xf32>
  return %e : tensor<2048x1024xf32>
}

