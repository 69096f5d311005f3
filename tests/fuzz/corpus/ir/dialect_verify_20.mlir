
func.func @guard_size(%x: tensor<2xf32>) {
  // expected-error @+1 {{'tl.guard' op guards a single value, got 'tensor<2xf32>'}}
  tl.guard %x {scalar = 1.0 : f64} : tensor<2xf32>
  return
}

