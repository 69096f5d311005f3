
func.func @random_kind(%rng: tensor<2xi64>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.random' op count 7 names no random kind}}
  %0 = tl.random %rng {dims = [:i64 3], count = 7 : i64} : (tensor<2xi64>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

