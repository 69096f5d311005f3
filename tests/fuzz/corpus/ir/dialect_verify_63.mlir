
func.func @binary_dtypes(%a: tensor<3xf32>, %b: tensor<3xf64>) -> tensor<3xf32> {
  // expected-error @+1 {{tl::add: operands must share one dtype: input 0 is [3] float32, input 1 is [3] float64}}
  %0 = tl.add %a, %b : (tensor<3xf32>, tensor<3xf64>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

