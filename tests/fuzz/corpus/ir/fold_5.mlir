
func.func @identities(%arg0: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xi32>) {
  %one = tl.constant dense<1.0> : tensor<f32>
  %zero = tl.constant dense<0.0> : tensor<3xf32>
  %nzero = tl.constant dense<-0.0> : tensor<3xf32>
  %izero = tl.constant dense<0> : tensor<i32>
  %a = tl.mul %arg0, %one : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
  %b = tl.mul %one, %arg0 : (tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
  %c = tl.div %arg0, %one : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
  %d = tl.sub %arg0, %zero : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %e = tl.add %nzero, %arg0 : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %i = tl.cast %arg0 {dtype = i32} : (tensor<3xf32>) -> tensor<3xi32>
  %f = tl.add %i, %izero : (tensor<3xi32>, tensor<i32>) -> tensor<3xi32>
  return %a, %b, %c, %d, %e, %f : tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xi32>
}

