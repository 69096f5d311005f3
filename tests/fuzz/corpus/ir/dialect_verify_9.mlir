
func.func @bad_dtype(%a: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.cast' op element type ui8 has no tl dtype}}
  %0 = tl.cast %a {dtype = ui8} : (tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

