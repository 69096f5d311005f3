
func.func @not_an_argument(%arg0: tensor<3xf32>) -> tensor<3xf32> {
  %n = tl.neg %arg0 : (tensor<3xf32>) -> tensor<3xf32>
  // expected-error @+1 {{the target of tl.assign must be a function argument}}
  tl.assign %n, %arg0 : tensor<3xf32>, tensor<3xf32>
  return %n : tensor<3xf32>
}
