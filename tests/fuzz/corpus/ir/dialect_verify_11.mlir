
func.func @dynamic_shape(%a: tensor<?x3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{'tl.exp' op operand #0 is 'tensor<?x3xf32>'; tl ops need static shapes}}
  %0 = tl.exp %a : (tensor<?x3xf32>) -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

