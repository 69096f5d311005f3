
func.func @chain() -> (tensor<2x1xf32>, tensor<3x2xi64>) {
  %a = tl.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %s = tl.sum %a {dims = [:i64 1], keepdim} : (tensor<2x3xf32>) -> tensor<2x1xf32>
  %i = tl.cast %a {dtype = i64} : (tensor<2x3xf32>) -> tensor<2x3xi64>
  %t = tl.permute %i {dims = [:i64 1, 0]} : (tensor<2x3xi64>) -> tensor<3x2xi64>
  return %s, %t : tensor<2x1xf32>, tensor<3x2xi64>
}

