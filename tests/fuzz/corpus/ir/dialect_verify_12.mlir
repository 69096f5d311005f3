
func.func @random_shape(%rng: tensor<2xi64>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.random' op result is 'tensor<3xf32>' but dims is [4]}}
  %0 = tl.random %rng {dims = [:i64 4]} : (tensor<2xi64>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

