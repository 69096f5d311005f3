
func.func @index_select_index_dtype(%x: tensor<3x4xf32>, %i: tensor<2xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{tl::index_select: index must be int32 or int64, got float32 [2]}}
  %0 = tl.index_select %x, %i : (tensor<3x4xf32>, tensor<2xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

