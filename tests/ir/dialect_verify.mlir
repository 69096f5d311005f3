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

// An attribute of another type than the op declares (dims is an i64 array).
func.func @bad_attribute_kind(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'tl.sum' op attribute 'dims' failed to satisfy constraint: i64 dense array attribute}}
  %0 = tl.sum %a {dims = 1 : i64} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// Integer attributes are i64.
func.func @bad_attribute_width(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'tl.softmax' op attribute 'axis' failed to satisfy constraint: 64-bit signless integer attribute}}
  %0 = tl.softmax %a {axis = 1 : i32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Only the attributes of the convention, so that a misspelt one is not silently ignored.
func.func @unknown_attribute(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'tl.sum' op has unknown attribute 'dim'}}
  %0 = tl.sum %a {dim = [:i64 1], dims = [:i64 1]} : (tensor<2x3xf32>) -> tensor<2xf32>
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
  // expected-error @+1 {{'tl.random' op result is 'tensor<3xf32>' but shape is [4]}}
  %0 = tl.random %rng {dtype = f32, shape = [:i64 4]} : (tensor<2xi64>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @random_dtype(%rng: tensor<2xi64>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.random' op result is 'tensor<3xf32>' but dtype is 'i64'}}
  %0 = tl.random %rng {dtype = i64, shape = [:i64 3]} : (tensor<2xi64>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @random_kind(%rng: tensor<2xi64>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.random' op distribution 7 names no random kind}}
  %0 = tl.random %rng {distribution = 7 : i64, dtype = f32, shape = [:i64 3]} : (tensor<2xi64>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @random_state(%rng: tensor<3xi64>) -> tensor<3xf32> {
  // expected-error @+1 {{'tl.random' op rng must be tensor<2xi64> (seed, offset), got 'tensor<3xi64>'}}
  %0 = tl.random %rng {dtype = f32, shape = [:i64 3]} : (tensor<3xi64>) -> tensor<3xf32>
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
  tl.guard %x {value = 1.0 : f64} : tensor<2xf32>
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

// -----

// The shape rules check the attributes the public functions validate and normalize, so
// hand-written IR with nonsense attributes fails here instead of in a kernel. Reduction
// dims must be normalized (in [0, rank)): the rule used to skip an unknown dim and infer the
// result below.
func.func @reduce_dim_out_of_range(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{tl::sum: dim 2 in dims [2] is out of range for a tensor of rank 2 (expected in [0, 1])}}
  %0 = tl.sum %a {dims = [:i64 2]} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @reduce_dim_negative(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{tl::sum: dim -1 in dims [-1] is out of range}}
  %0 = tl.sum %a {dims = [:i64 -1]} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// A repeated dim made the kernel read past the input.
func.func @reduce_dim_repeated(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{tl::amax: dim 1 appears twice in dims [1, 1]}}
  %0 = tl.amax %a {dims = [:i64 1, 1]} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// max and argmax have no identity: the kernel would read the first of zero elements.
func.func @reduce_empty_dim(%a: tensor<0x3xf32>) -> tensor<3xi64> {
  // expected-error @+1 {{tl::argmin: cannot reduce over dim 0 of size 0 in [0, 3] (no identity)}}
  %0 = tl.argmax %a {dims = [:i64 0], min} : (tensor<0x3xf32>) -> tensor<3xi64>
  return %0 : tensor<3xi64>
}

// -----

func.func @argmax_two_dims(%a: tensor<2x3xf32>) -> tensor<i64> {
  // expected-error @+1 {{tl::argmax: reduces one dim, got dims [0, 1]}}
  %0 = tl.argmax %a {dims = [:i64 0, 1]} : (tensor<2x3xf32>) -> tensor<i64>
  return %0 : tensor<i64>
}

// -----

// flag turns sum into mean, which the public function allows on floating tensors only.
func.func @mean_of_integers(%a: tensor<3xi64>) -> tensor<i64> {
  // expected-error @+1 {{tl::mean: the input must be a floating-point tensor, got int64 [3]}}
  %0 = tl.sum %a {dims = [:i64 0], mean} : (tensor<3xi64>) -> tensor<i64>
  return %0 : tensor<i64>
}

// -----

// softmax's axis is normalized too; an out-of-range one used to verify and be read by the kernel.
func.func @softmax_axis(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{tl::softmax: axis 2 is out of range for a tensor of rank 2 (expected in [0, 1])}}
  %0 = tl.softmax %a {axis = 2 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// The public functions reshape a 0-d input to [1] first.
func.func @log_softmax_scalar(%a: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{tl::log_softmax: axis 0 names no dim of a 0-d tensor}}
  %0 = tl.softmax %a {log} : (tensor<f32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @softmax_of_integers(%a: tensor<3xi32>) -> tensor<3xi32> {
  // expected-error @+1 {{tl::softmax: the input must be a floating-point tensor, got int32 [3]}}
  %0 = tl.softmax %a : (tensor<3xi32>) -> tensor<3xi32>
  return %0 : tensor<3xi32>
}

// -----

// cat's axis: the rule used to write past the shape's rank and infer the operand's shape.
func.func @cat_axis(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{tl::cat: axis 2 is out of range for a tensor of rank 2 (expected in [0, 1])}}
  %0 = tl.cat %a, %b {axis = 2 : i64} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @cat_sizes(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{tl::cat: sizes must match except in dim 0: input 0 is [2, 3] float32, input 1 is [2, 4] float32}}
  %0 = tl.cat %a, %b : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

func.func @cat_dtypes(%a: tensor<2xf32>, %b: tensor<2xf64>) -> tensor<4xf32> {
  // expected-error @+1 {{tl::cat: operands must share one dtype}}
  %0 = tl.cat %a, %b : (tensor<2xf32>, tensor<2xf64>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @gather_axis(%x: tensor<3x4xf32>, %i: tensor<3x2xi64>) -> tensor<3x2xf32> {
  // expected-error @+1 {{tl::gather: axis -1 is out of range for a tensor of rank 2}}
  %0 = tl.gather %x, %i {axis = -1 : i64} : (tensor<3x4xf32>, tensor<3x2xi64>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

// An index larger than x outside the gathered dim would make the kernel read past x.
func.func @gather_index_shape(%x: tensor<3x4xf32>, %i: tensor<5x2xi64>) -> tensor<5x2xf32> {
  // expected-error @+1 {{tl::gather: index needs the same rank and no larger size than x in every dim except 1}}
  %0 = tl.gather %x, %i {axis = 1 : i64} : (tensor<3x4xf32>, tensor<5x2xi64>) -> tensor<5x2xf32>
  return %0 : tensor<5x2xf32>
}

// -----

func.func @index_select_axis(%x: tensor<3x4xf32>, %i: tensor<2xi64>) -> tensor<3x4xf32> {
  // expected-error @+1 {{tl::index_select: axis 2 is out of range for a tensor of rank 2}}
  %0 = tl.index_select %x, %i {axis = 2 : i64} : (tensor<3x4xf32>, tensor<2xi64>) -> tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

func.func @index_select_index_dtype(%x: tensor<3x4xf32>, %i: tensor<2xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{tl::index_select: index must be int32 or int64, got float32 [2]}}
  %0 = tl.index_select %x, %i : (tensor<3x4xf32>, tensor<2xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @scatter_add_shape(%s: tensor<3x4xf32>, %i: tensor<3x4xi64>) -> tensor<2x5xf32> {
  // expected-error @+1 {{tl::scatter_add: src and index need one shape, of the rank of dims [2, 5] and no larger in any dim except 1}}
  %0 = tl.scatter_add %s, %i {axis = 1 : i64, shape = [:i64 2, 5]} : (tensor<3x4xf32>, tensor<3x4xi64>) -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

func.func @one_hot_count(%i: tensor<5xi64>) -> tensor<5xf32> {
  // expected-error @+1 {{tl::one_hot: count (num_classes) must be at least 1, got 0}}
  %0 = tl.one_hot %i : (tensor<5xi64>) -> tensor<5xf32>
  return %0 : tensor<5xf32>
}

// -----

// permute's dims must be a permutation of the operand's dims.
func.func @permute_repeated(%a: tensor<2x3xf32>) -> tensor<2x2xf32> {
  // expected-error @+1 {{tl::permute: dim 0 appears twice in dims [0, 0]}}
  %0 = tl.permute %a {perm = [:i64 0, 0]} : (tensor<2x3xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

func.func @permute_out_of_range(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+1 {{tl::permute: dim 5 in dims [1, 5] is out of range for a tensor of rank 2}}
  %0 = tl.permute %a {perm = [:i64 1, 5]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @permute_rank(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{tl::permute: dims [0] is not a permutation of the 2 dims of [2, 3]}}
  %0 = tl.permute %a {perm = [:i64 0]} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// reshape's sizes are resolved (no -1) and keep the element count.
func.func @reshape_count(%a: tensor<2x3xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{tl::reshape: cannot view [2, 3] (6 elements) as [4, 2] (8 elements)}}
  %0 = tl.reshape %a {shape = [:i64 4, 2]} : (tensor<2x3xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

// A negative size used to reach the result type as a dynamic dim.
func.func @reshape_negative(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{tl::reshape: dims [-1, 3] is not a shape (sizes must be >= 0}}
  %0 = tl.reshape %a {shape = [:i64 -1, 3]} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @expand_size(%a: tensor<2x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{tl::expand: cannot expand [2, 3] to [4, 3] (only size-1 dims grow, and new dims go in front)}}
  %0 = tl.expand %a {shape = [:i64 4, 3]} : (tensor<2x3xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

// A slice with step 0 divided by zero in the shape rule and crashed tl-opt. Without a step
// attribute the step is 1 (its default), which is valid.
func.func @slice_missing_step(%a: tensor<2x3xf32>) -> tensor<2x2xf32> {
  %0 = tl.slice %a {axis = 1 : i64, end = 2 : i64} : (tensor<2x3xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

func.func @slice_zero_step(%a: tensor<2x3xf32>) -> tensor<2x2xf32> {
  // expected-error @+1 {{tl::slice: step must be >= 1, got 0}}
  %0 = tl.slice %a {axis = 1 : i64, end = 2 : i64, step = 0 : i64} : (tensor<2x3xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

// The bounds are clamped by the public function: a view past the end would read past the storage.
func.func @slice_range(%a: tensor<2x3xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{tl::slice: the range [start, end) = [1, 9) must satisfy 0 <= start <= end <= 3}}
  %0 = tl.slice %a {axis = 1 : i64, end = 9 : i64, start = 1 : i64} : (tensor<2x3xf32>) -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

func.func @slice_axis(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{tl::slice: axis 3 is out of range for a tensor of rank 2}}
  %0 = tl.slice %a {axis = 3 : i64, end = 1 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @slice_backward_shape(%d: tensor<2x2xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{tl::slice_backward: the gradient is [2, 2] but slicing shape [2, 3] gives [2, 1]}}
  %0 = tl.slice_backward %d {axis = 1 : i64, end = 2 : i64, shape = [:i64 2, 3], start = 1 : i64} : (tensor<2x2xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// conv2d without a stride divided by zero in the shape rule and crashed tl-opt.
func.func @conv_missing_stride(%x: tensor<1x3x5x5xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x3x3xf32> {
  // expected-error @+1 {{tl::conv2d: stride must hold 2 values (height, width), each >= 1, got []}}
  %0 = tl.conv2d %x, %w {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 0, 0]} : (tensor<1x3x5x5xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x3x3xf32>
  return %0 : tensor<1x4x3x3xf32>
}

// -----

func.func @conv_negative_padding(%x: tensor<1x3x5x5xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x1x3xf32> {
  // expected-error @+1 {{tl::conv2d: padding must hold 2 values (height, width), each >= 0, got [-1, 0]}}
  %0 = tl.conv2d %x, %w {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 -1, 0], stride = [:i64 1, 1]} : (tensor<1x3x5x5xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x1x3xf32>
  return %0 : tensor<1x4x1x3xf32>
}

// -----

func.func @conv_zero_dilation(%x: tensor<1x3x5x5xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x5x3xf32> {
  // expected-error @+1 {{tl::conv2d: dilation must hold 2 values (height, width), each >= 1, got [0, 1]}}
  %0 = tl.conv2d %x, %w {dilation = [:i64 0, 1], groups = 1 : i64, padding = [:i64 0, 0], stride = [:i64 1, 1]} : (tensor<1x3x5x5xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x5x3xf32>
  return %0 : tensor<1x4x5x3xf32>
}

// -----

// groups (count) left out is 0; the kernels divide by it.
func.func @conv_groups(%x: tensor<1x3x5x5xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x3x3xf32> {
  // expected-error @+1 {{tl::conv2d: groups = 0 must be positive and divide both the 3 input channels and the 4 output channels}}
  %0 = tl.conv2d %x, %w {dilation = [:i64 1, 1], padding = [:i64 0, 0], stride = [:i64 1, 1]} : (tensor<1x3x5x5xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x3x3xf32>
  return %0 : tensor<1x4x3x3xf32>
}

// -----

func.func @conv_backward_input_shape(%dy: tensor<1x4x2x2xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x3x5x5xf32> {
  // expected-error @+1 {{tl::conv2d_backward_input: dout must have conv2d's output shape [1, 4, 3, 3]}}
  %0 = tl.conv2d_backward_input %dy, %w {dilation = [:i64 1, 1], groups = 1 : i64, padding = [:i64 0, 0], shape = [:i64 1, 3, 5, 5], stride = [:i64 1, 1]} : (tensor<1x4x2x2xf32>, tensor<4x3x3x3xf32>) -> tensor<1x3x5x5xf32>
  return %0 : tensor<1x3x5x5xf32>
}

// -----

// A zero stride divided by zero in the shape rule and crashed tl-opt.
func.func @pool_zero_stride(%x: tensor<1x2x6x6xf32>) -> tensor<1x2x3x3xf32> {
  // expected-error @+1 {{tl::max_pool2d: stride must hold 2 values (height, width), each >= 1, got [0, 2]}}
  %0 = tl.max_pool2d %x {kernel = [:i64 2, 2], stride = [:i64 0, 2]} : (tensor<1x2x6x6xf32>) -> tensor<1x2x3x3xf32>
  return %0 : tensor<1x2x3x3xf32>
}

// -----

// A window of padding alone has no maximum: the kernel would read before the input.
func.func @pool_padding(%x: tensor<1x2x6x6xf32>) -> tensor<1x2x4x4xf32> {
  // expected-error @+1 {{tl::max_pool2d: padding [2, 2] must be at most half the kernel [2, 2]}}
  %0 = tl.max_pool2d %x {kernel = [:i64 2, 2], padding = [:i64 2, 2], stride = [:i64 2, 2]} : (tensor<1x2x6x6xf32>) -> tensor<1x2x4x4xf32>
  return %0 : tensor<1x2x4x4xf32>
}

// -----

func.func @pool_backward_shape(%dy: tensor<1x2x2x2xf32>, %x: tensor<1x2x6x6xf32>) -> tensor<1x2x6x6xf32> {
  // expected-error @+1 {{tl::avg_pool2d_backward: dout must have the pooled shape [1, 2, 3, 3]}}
  %0 = tl.avg_pool2d_backward %dy, %x {kernel = [:i64 2, 2], padding = [:i64 0, 0], stride = [:i64 2, 2]} : (tensor<1x2x2x2xf32>, tensor<1x2x6x6xf32>) -> tensor<1x2x6x6xf32>
  return %0 : tensor<1x2x6x6xf32>
}

// -----

// Binary ops take operands of one dtype (the public functions cast first): the kernel
// would read the f32 operand as f64.
func.func @binary_dtypes(%a: tensor<3xf32>, %b: tensor<3xf64>) -> tensor<3xf32> {
  // expected-error @+1 {{tl::add: operands must share one dtype: input 0 is [3] float32, input 1 is [3] float64}}
  %0 = tl.add %a, %b : (tensor<3xf32>, tensor<3xf64>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @compare_dtypes(%a: tensor<3xi32>, %b: tensor<3xi64>) -> tensor<3xi1> {
  // expected-error @+1 {{tl::lt: operands must share one dtype}}
  %0 = tl.lt %a, %b : (tensor<3xi32>, tensor<3xi64>) -> tensor<3xi1>
  return %0 : tensor<3xi1>
}

// -----

func.func @matmul_dtypes(%a: tensor<2x3xf32>, %b: tensor<3x4xf64>) -> tensor<2x4xf32> {
  // expected-error @+1 {{tl::matmul: operands must share one dtype}}
  %0 = tl.matmul %a, %b : (tensor<2x3xf32>, tensor<3x4xf64>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// 1-D operands are unsqueezed by the public function; the op's rule read a missing dim.
func.func @matmul_rank(%a: tensor<3xf32>, %b: tensor<3x4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{tl::matmul: the op takes operands of rank >= 2}}
  %0 = tl.matmul %a, %b : (tensor<3xf32>, tensor<3x4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @where_condition(%c: tensor<3xf32>, %a: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{tl::where: the condition must be bool, got float32 [3]}}
  %0 = tl.where %c, %a, %a : (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

// Float-only ops: the public functions cast integer inputs to float32 first.
func.func @div_integers(%a: tensor<3xi64>) -> tensor<3xi64> {
  // expected-error @+1 {{tl::div: the operands must be a floating-point tensor, got int64 [3]}}
  %0 = tl.div %a, %a : (tensor<3xi64>, tensor<3xi64>) -> tensor<3xi64>
  return %0 : tensor<3xi64>
}

// -----

func.func @exp_integers(%a: tensor<3xi64>) -> tensor<3xi64> {
  // expected-error @+1 {{tl::exp: the input must be a floating-point tensor, got int64 [3]}}
  %0 = tl.exp %a : (tensor<3xi64>) -> tensor<3xi64>
  return %0 : tensor<3xi64>
}

// -----

// Every op declares its arity, and the verifier checks it before the shape rule runs; a
// comparison with one operand used to read a second one that was not there.
func.func @compare_arity(%a: tensor<3xf32>) -> tensor<3xi1> {
  // expected-error @+1 {{'tl.eq' op takes 2 operand(s), got 1}}
  %0 = tl.eq %a : (tensor<3xf32>) -> tensor<3xi1>
  return %0 : tensor<3xi1>
}

// -----

func.func @clamp_bounds(%a: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{tl::clamp: min 2.000000 is greater than max 1.000000}}
  %0 = tl.clamp %a {max = 1.0 : f64, min = 2.0 : f64} : (tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}
