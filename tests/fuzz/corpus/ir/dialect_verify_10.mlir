
func.func @bad_element_type(%a: tensor<3xui8>) -> tensor<3xui8> {
  // expected-error @+1 {{'tl.neg' op operand #0: element type ui8 has no tl dtype}}
  %0 = tl.neg %a : (tensor<3xui8>) -> tensor<3xui8>
  return %0 : tensor<3xui8>
}

