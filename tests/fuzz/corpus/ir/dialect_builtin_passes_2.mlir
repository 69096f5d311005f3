
func.func @random_offsets(%rng: tensor<2xi64>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %0 = tl.random %rng {dims = [:i64 4]} : (tensor<2xi64>) -> tensor<4xf32>
  %1 = tl.random %rng {dims = [:i64 4], axis = 4 : i64} : (tensor<2xi64>) -> tensor<4xf32>
  %2 = tl.random %rng {dims = [:i64 4]} : (tensor<2xi64>) -> tensor<4xf32>
  return %0, %1, %2 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}

