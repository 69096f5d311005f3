
func.func @wrong_result_dtype(%a: tensor<2x3xf32>) -> tensor<2x3xf64> {
  // expected-error @+1 {{'tl.exp' op result is 'tensor<2x3xf64>' but the op table infers 'tensor<2x3xf32>'}}
  %0 = tl.exp %a : (tensor<2x3xf32>) -> tensor<2x3xf64>
  return %0 : tensor<2x3xf64>
}

