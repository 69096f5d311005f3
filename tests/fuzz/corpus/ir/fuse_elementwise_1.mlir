
func.func @escaping(%x: tensor<16xf64>) -> (tensor<16xf64>, tensor<16xf64>) {
  %e = tl.exp %x : (tensor<16xf64>) -> tensor<16xf64>
  %0 = tl.neg %e : (tensor<16xf64>) -> tensor<16xf64>
  %1 = tl.tanh %0 : (tensor<16xf64>) -> tensor<16xf64>
  %2 = tl.sigmoid %0 : (tensor<16xf64>) -> tensor<16xf64>
  %3 = tl.mul %1, %2 : (tensor<16xf64>, tensor<16xf64>) -> tensor<16xf64>
  return %3, %0 : tensor<16xf64>, tensor<16xf64>
}

