
func.func @not_identities(%arg0: tensor<3xf32>) -> (tensor<3xf32>, tensor<2x3xf32>) {
  %zero = tl.constant dense<0.0> : tensor<3xf32>
  %ones = tl.constant dense<1.0> : tensor<2x3xf32>
  %a = tl.add %arg0, %zero : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %b = tl.mul %arg0, %ones : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %a, %b : tensor<3xf32>, tensor<2x3xf32>
}
