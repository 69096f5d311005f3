
func.func @random_state(%rng: tensor<3xi64>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.random' op rng must be tensor<2xi64> (seed, offset), got 'tensor<3xi64>'}}
  %0 = tl.random %rng {dims = [:i64 3]} : (tensor<3xi64>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

