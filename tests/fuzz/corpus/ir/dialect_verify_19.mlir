
func.func @assign_type(%t: tensor<3xf32>, %v: tensor<3xf64>) {
  // expected-error @+1 {{'tl.assign' op assigns a tensor<3xf64> to a tensor<3xf32>; the types must match}}
  tl.assign %t, %v : tensor<3xf32>, tensor<3xf64>
  return
}

