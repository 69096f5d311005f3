
func.func @registry_ops(%a: tensor<2x3xf32>, %b: tensor<3xf32>, %m: tensor<3x4xf32>, %c: tensor<2x3xi1>,
                        %labels: tensor<5xi64>, %x: tensor<1x2x5x5xf32>, %w: tensor<4x2x3x3xf32>)
    -> (tensor<2x3xf32>, tensor<2x4xf32>, tensor<2x1xf32>, tensor<2x3xf32>, tensor<2x3xf16>,
        tensor<2x3xf32>, tensor<1x4x3x3xf32>, tensor<3x2xf32>, tensor<2x3xf32>, tensor<5x10xf32>) {
  // CHECK: %[[ADD:.*]] = tl.add %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %0 = tl.add %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: tl.matmul %[[ADD]], %{{.*}} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  %1 = tl.matmul %0, %m : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  // CHECK: tl.sum %{{.*}} {dims = [:i64 1], flag, keepdim} : (tensor<2x3xf32>) -> tensor<2x1xf32>
  %2 = tl.sum %a {dims = [:i64 1], keepdim, flag} : (tensor<2x3xf32>) -> tensor<2x1xf32>
  // CHECK: tl.softmax %{{.*}} {axis = 1 : i64, flag} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %3 = tl.softmax %a {axis = 1 : i64, flag} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: tl.cast %{{.*}} {dtype = f16} : (tensor<2x3xf32>) -> tensor<2x3xf16>
  %4 = tl.cast %a {dtype = f16} : (tensor<2x3xf32>) -> tensor<2x3xf16>
  // CHECK: tl.clamp %{{.*}} {flag, flag2, scalar = -1.000000e+00 : f64, scalar2 = 5.000000e-01 : f64}
  %5 = tl.clamp %a {flag, flag2, scalar = -1.0 : f64, scalar2 = 0.5 : f64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: tl.conv2d %{{.*}}, %{{.*}} {count = 1 : i64, dilation = [:i64 1, 1], padding = [:i64 1, 0], stride = [:i64 2, 1]}
  // CHECK-SAME: (tensor<1x2x5x5xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x3x3xf32>
  %6 = tl.conv2d %x, %w {stride = [:i64 2, 1], padding = [:i64 1, 0], dilation = [:i64 1, 1], count = 1 : i64}
      : (tensor<1x2x5x5xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x3x3xf32>
  // CHECK: tl.permute %{{.*}} {dims = [:i64 1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %7 = tl.permute %a {dims = [:i64 1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  // CHECK: tl.where %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %8 = tl.where %c, %a, %b : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: tl.one_hot %{{.*}} {count = 10 : i64} : (tensor<5xi64>) -> tensor<5x10xf32>
  %9 = tl.one_hot %labels {count = 10 : i64} : (tensor<5xi64>) -> tensor<5x10xf32>
  return %0, %1, %2, %3, %4, %5, %6, %7, %8, %9 : tensor<2x3xf32>, tensor<2x4xf32>, tensor<2x1xf32>, tensor<2x3xf32>,
      tensor<2x3xf16>, tensor<2x3xf32>, tensor<1x4x3x3xf32>, tensor<3x2xf32>, tensor<2x3xf32>, tensor<5x10xf32>
}

