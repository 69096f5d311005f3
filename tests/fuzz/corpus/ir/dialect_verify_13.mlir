
func.func @random_dtype(%rng: tensor<2xi64>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.random' op result is 'tensor<3xf32>' but dtype is 'i64'}}
  %0 = tl.random %rng {dims = [:i64 3], dtype = i64} : (tensor<2xi64>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

