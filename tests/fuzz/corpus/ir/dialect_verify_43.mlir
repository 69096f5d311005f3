
func.func @one_hot_count(%i: tensor<5xi64>) -> tensor<5xf32> {
  // expected-error @+1 {{tl::one_hot: count (num_classes) must be at least 1, got 0}}
  %0 = tl.one_hot %i : (tensor<5xi64>) -> tensor<5xf32>
  return %0 : tensor<5xf32>
}

