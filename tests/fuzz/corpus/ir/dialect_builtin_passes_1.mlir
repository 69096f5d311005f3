
func.func @attributes_keep_ops_apart(%a: tensor<2x3xf32>) -> (tensor<1x3xf32>, tensor<3xf32>) {
  %0 = tl.sum %a {dims = [:i64 0], keepdim} : (tensor<2x3xf32>) -> tensor<1x3xf32>
  %1 = tl.sum %a {dims = [:i64 0]} : (tensor<2x3xf32>) -> tensor<3xf32>
  return %0, %1 : tensor<1x3xf32>, tensor<3xf32>
}

