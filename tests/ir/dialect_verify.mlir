// The verifiers reject malformed tl IR with a message naming the op and what is wrong.
// Registry ops are checked by running the op table's shape/dtype rule on the operand types.
// RUN: tl-opt %s -split-input-file -verify-diagnostics

// A result shape that differs from the one the shape rule infers.
func.func @wrong_result_shape(%a: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.add' op result is 'tensor<3xf32>' but the op table infers 'tensor<2x3xf32>'}}
  %0 = tl.add %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

// A result dtype that differs from the inferred one.
func.func @wrong_result_dtype(%a: tensor<2x3xf32>) -> tensor<2x3xf64> {
  // expected-error @+1 {{'tl.exp' op result is 'tensor<2x3xf64>' but the op table infers 'tensor<2x3xf32>'}}
  %0 = tl.exp %a : (tensor<2x3xf32>) -> tensor<2x3xf64>
  return %0 : tensor<2x3xf64>
}

// -----

// The arity recorded from the op's samples.
func.func @wrong_arity(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'tl.add' op takes 2 operand(s), got 1}}
  %0 = tl.add %a : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// The shape rule's own error, naming the operands' shapes and the op's location.
func.func @shape_rule_error(%a: tensor<2x3xf32>, %b: tensor<4xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{shapes cannot be broadcast together: input 0 is [2, 3] float32, input 1 is [4] float32}}
  %0 = tl.add %a, %b : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// An attribute of another kind than the convention (dims is an i64 array).
func.func @bad_attribute_kind(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'tl.sum' op tl.sum: attribute 'dims' must be an i64 array ([:i64 ...])}}
  %0 = tl.sum %a {dims = 1 : i64} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// Integer attributes are i64.
func.func @bad_attribute_width(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'tl.softmax' op tl.softmax: attribute 'axis' must be an i64 integer}}
  %0 = tl.softmax %a {axis = 1 : i32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Only the attributes of the convention, so that a misspelt one is not silently ignored.
func.func @unknown_attribute(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'tl.sum' op has unknown attribute 'dim'}}
  %0 = tl.sum %a {dims = [:i64 1], dim = [:i64 1]} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// Attributes with their default value are left out, so equal ops print (and CSE) equal.
func.func @default_attribute(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'tl.softmax' op attribute 'axis' = 0 : i64 has its default value; leave it out}}
  %0 = tl.softmax %a {axis = 0 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Other dialects' attributes may ride along.
func.func @foreign_attribute(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = tl.exp %a {other.note = "kept"} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// dtype must name an element type tl has.
func.func @bad_dtype(%a: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.cast' op element type ui8 has no tl dtype}}
  %0 = tl.cast %a {dtype = ui8} : (tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @bad_element_type(%a: tensor<3xui8>) -> tensor<3xui8> {
  // expected-error @+1 {{'tl.neg' op operand #0: element type ui8 has no tl dtype}}
  %0 = tl.neg %a : (tensor<3xui8>) -> tensor<3xui8>
  return %0 : tensor<3xui8>
}

// -----

// Shapes are static: a compiled function is specialized on its input shapes.
func.func @dynamic_shape(%a: tensor<?x3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{'tl.exp' op operand #0 is 'tensor<?x3xf32>'; tl ops need static shapes}}
  %0 = tl.exp %a : (tensor<?x3xf32>) -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

// A random draw's result type follows its dims and dtype attributes.
func.func @random_shape(%rng: tensor<2xi64>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.random' op result is 'tensor<3xf32>' but dims is [4]}}
  %0 = tl.random %rng {dims = [:i64 4]} : (tensor<2xi64>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @random_dtype(%rng: tensor<2xi64>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.random' op result is 'tensor<3xf32>' but dtype is 'i64'}}
  %0 = tl.random %rng {dims = [:i64 3], dtype = i64} : (tensor<2xi64>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @random_kind(%rng: tensor<2xi64>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.random' op count 7 names no random kind}}
  %0 = tl.random %rng {dims = [:i64 3], count = 7 : i64} : (tensor<2xi64>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @random_state(%rng: tensor<3xi64>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.random' op rng must be tensor<2xi64> (seed, offset), got 'tensor<3xi64>'}}
  %0 = tl.random %rng {dims = [:i64 3]} : (tensor<3xi64>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

// Each gradient has the type of its wrt operand, and the seed the type of the loss.
func.func @grad_type(%l: tensor<f32>, %x: tensor<3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'tl.grad' op result #0 is 'tensor<2xf32>' but wrt #0 is 'tensor<3xf32>'}}
  %0 = tl.grad %l, %l, %x : (tensor<f32>, tensor<f32>, tensor<3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @grad_seed(%l: tensor<f32>, %s: tensor<1xf32>, %x: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.grad' op seed is 'tensor<1xf32>' but loss is 'tensor<f32>'}}
  %0 = tl.grad %l, %s, %x : (tensor<f32>, tensor<1xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @grad_count(%l: tensor<f32>, %x: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.grad' op has 1 result(s) for 2 wrt operand(s)}}
  %0 = tl.grad %l, %l, %x, %x : (tensor<f32>, tensor<f32>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @assign_type(%t: tensor<3xf32>, %v: tensor<3xf64>) {
  // expected-error @+1 {{'tl.assign' op assigns a tensor<3xf64> to a tensor<3xf32>; the types must match}}
  tl.assign %t, %v : tensor<3xf32>, tensor<3xf64>
  return
}

// -----

func.func @guard_size(%x: tensor<2xf32>) {
  // expected-error @+1 {{'tl.guard' op guards a single value, got 'tensor<2xf32>'}}
  tl.guard %x {scalar = 1.0 : f64} : tensor<2xf32>
  return
}

// -----

// Function attributes in the tl namespace are checked too.
// expected-error @+1 {{argument #0: tl.input must be one of "argument", "capture", "grad_of", "rng"}}
func.func @input_kind(%x: tensor<2xf32> {tl.input = "param"}) {
  return
}

// -----

// expected-error @+1 {{argument #0: unknown attribute tl.foo}}
func.func @unknown_argument_attribute(%x: tensor<2xf32> {tl.foo = 1 : i64}) {
  return
}

// -----

// expected-error @+1 {{result #0: tl.writeback 3 names no argument (the function has 1)}}
func.func @writeback_index(%x: tensor<2xf32>) -> (tensor<2xf32> {tl.writeback = 3 : i64}) {
  return %x : tensor<2xf32>
}

// -----

// expected-error @+1 {{result #0 is 'tensor<3xf32>' but is written back to argument #0 of type 'tensor<2xf32>'}}
func.func @writeback_type(%x: tensor<2xf32>, %y: tensor<3xf32>) -> (tensor<3xf32> {tl.writeback = 0 : i64}) {
  return %y : tensor<3xf32>
}

// -----

// expected-error @+1 {{tl.rng_advance must be a non-negative i64}}
func.func @rng_advance() attributes {tl.rng_advance = -1 : i64} {
  return
}
