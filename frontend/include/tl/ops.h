// The eager op library. Every function here is one registered op (frontend/ops/) or a
// composition of them; all of them broadcast by NumPy rules where they take two tensors,
// differentiate (unless noted), and throw ShapeError/DTypeError/DeviceError naming the op,
// the operands and the caller's line.
#pragma once

#include <optional>
#include <vector>

#include "tl/tensor.h"

namespace tl {

// ---------- factories ----------
struct TensorOptions {
  DType dtype = kFloat32;
  Device device = kCPU;
  bool requires_grad = false;
};
Tensor empty(Shape shape, TensorOptions options = {}, Site site = Site::here());
Tensor zeros(Shape shape, TensorOptions options = {}, Site site = Site::here());
Tensor ones(Shape shape, TensorOptions options = {}, Site site = Site::here());
Tensor full(Shape shape, double value, TensorOptions options = {}, Site site = Site::here());
Tensor zeros_like(const Tensor& t, Site site = Site::here());
Tensor ones_like(const Tensor& t, Site site = Site::here());
Tensor full_like(const Tensor& t, double value, Site site = Site::here());
Tensor scalar_tensor(double value, TensorOptions options = {}, Site site = Site::here());
// [start, end) in steps of `step`; int64 unless options say otherwise.
Tensor arange(double end, TensorOptions options = {.dtype = kInt64}, Site site = Site::here());
Tensor arange(double start, double end, double step = 1,
              TensorOptions options = {.dtype = kInt64}, Site site = Site::here());
Tensor linspace(double start, double end, int64_t steps, TensorOptions options = {},
                Site site = Site::here());
Tensor eye(int64_t n, TensorOptions options = {}, Site site = Site::here());

// Copies `values` into a new tensor of `shape`. An empty `shape` means 1-D of values.size()
// elements, except that a single value gives a 0-d tensor (the shape {} holds one element).
template <class T>
Tensor from_vector(const std::vector<T>& values, Shape shape = {}, TensorOptions options = {.dtype = dtype_of<T>()},
                   Site site = Site::here());
// from_blob (wrapping caller-owned memory) is declared in tl/tensor.h.

// ---------- randomness (Philox, counter-based: same numbers at any thread count) ----------
Tensor rand(Shape shape, TensorOptions options = {}, Site site = Site::here());   // U[0, 1)
Tensor randn(Shape shape, TensorOptions options = {}, Site site = Site::here());  // N(0, 1)
Tensor randint(int64_t low, int64_t high, Shape shape, TensorOptions options = {.dtype = kInt64},
               Site site = Site::here());
Tensor bernoulli(const Tensor& p, Site site = Site::here());
Tensor bernoulli(Shape shape, double p, TensorOptions options = {}, Site site = Site::here());
Tensor uniform(Shape shape, double low, double high, TensorOptions options = {},
               Site site = Site::here());
Tensor normal(Shape shape, double mean, double std, TensorOptions options = {},
              Site site = Site::here());
// A random permutation of [0, n), int64.
Tensor randperm(int64_t n, Site site = Site::here());

// ---------- elementwise unary ----------
Tensor neg(const Tensor& x, Site site = Site::here());
Tensor abs(const Tensor& x, Site site = Site::here());
Tensor exp(const Tensor& x, Site site = Site::here());
Tensor log(const Tensor& x, Site site = Site::here());
Tensor sqrt(const Tensor& x, Site site = Site::here());
Tensor rsqrt(const Tensor& x, Site site = Site::here());
Tensor sin(const Tensor& x, Site site = Site::here());
Tensor cos(const Tensor& x, Site site = Site::here());
Tensor tanh(const Tensor& x, Site site = Site::here());
Tensor sigmoid(const Tensor& x, Site site = Site::here());
Tensor relu(const Tensor& x, Site site = Site::here());
Tensor gelu(const Tensor& x, Site site = Site::here());  // exact (erf) form
// gelu(x, GeluApproximation::kTanh): the tanh approximation (PyTorch's approximate="tanh").
enum class GeluApproximation { kNone, kTanh };
Tensor gelu(const Tensor& x, GeluApproximation approximate, Site site = Site::here());
// Activations with PyTorch's names and defaults (torch.nn.functional).
Tensor elu(const Tensor& x, double alpha = 1.0, Site site = Site::here());
Tensor selu(const Tensor& x, Site site = Site::here());
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01, Site site = Site::here());
// log(1 + e^(beta x)) / beta, and x where beta x > threshold. beta must be > 0.
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0, Site site = Site::here());
Tensor hardtanh(const Tensor& x, double min_val = -1.0, double max_val = 1.0, Site site = Site::here());
Tensor hardswish(const Tensor& x, Site site = Site::here());
Tensor mish(const Tensor& x, Site site = Site::here());
Tensor logsigmoid(const Tensor& x, Site site = Site::here());
Tensor silu(const Tensor& x, Site site = Site::here());
Tensor erf(const Tensor& x, Site site = Site::here());
Tensor sign(const Tensor& x, Site site = Site::here());          // not differentiable
Tensor logical_not(const Tensor& x, Site site = Site::here());   // bool result
Tensor pow(const Tensor& x, double exponent, Site site = Site::here());
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max,
             Site site = Site::here());
// Casts to `dtype` (differentiable between floating types).
Tensor cast(const Tensor& x, DType dtype, Site site = Site::here());

// ---------- elementwise binary ----------
Tensor add(const Tensor& a, const Tensor& b, Site site = Site::here());
Tensor sub(const Tensor& a, const Tensor& b, Site site = Site::here());
Tensor mul(const Tensor& a, const Tensor& b, Site site = Site::here());
Tensor div(const Tensor& a, const Tensor& b, Site site = Site::here());
Tensor pow(const Tensor& a, const Tensor& b, Site site = Site::here());
Tensor maximum(const Tensor& a, const Tensor& b, Site site = Site::here());
Tensor minimum(const Tensor& a, const Tensor& b, Site site = Site::here());
// Comparisons return bool tensors and are not differentiable.
Tensor eq(const Tensor& a, const Tensor& b, Site site = Site::here());
Tensor ne(const Tensor& a, const Tensor& b, Site site = Site::here());
Tensor lt(const Tensor& a, const Tensor& b, Site site = Site::here());
Tensor le(const Tensor& a, const Tensor& b, Site site = Site::here());
Tensor gt(const Tensor& a, const Tensor& b, Site site = Site::here());
Tensor ge(const Tensor& a, const Tensor& b, Site site = Site::here());
Tensor logical_and(const Tensor& a, const Tensor& b, Site site = Site::here());
Tensor logical_or(const Tensor& a, const Tensor& b, Site site = Site::here());
// `cond ? a : b`, all three broadcast together; `cond` is bool.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b, Site site = Site::here());
// min(max(x, min), max) elementwise with tensor bounds (broadcast); NaN in x stays NaN.
Tensor clamp(const Tensor& x, const Tensor& min, const Tensor& max, Site site = Site::here());
Tensor reciprocal(const Tensor& x, Site site = Site::here());  // 1 / x

// ---------- reductions (dims may be negative; an empty `dims` reduces everything) ----------
Tensor sum(const Tensor& x, Dims dims = {}, bool keepdim = false, Site site = Site::here());
Tensor mean(const Tensor& x, Dims dims = {}, bool keepdim = false, Site site = Site::here());
Tensor amax(const Tensor& x, Dims dims = {}, bool keepdim = false, Site site = Site::here());
Tensor amin(const Tensor& x, Dims dims = {}, bool keepdim = false, Site site = Site::here());
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false, Site site = Site::here());
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false, Site site = Site::here());
// Bessel-corrected by default (`correction` = 1), like PyTorch.
Tensor var(const Tensor& x, Dims dims = {}, int64_t correction = 1, bool keepdim = false,
           Site site = Site::here());
Tensor std(const Tensor& x, Dims dims = {}, int64_t correction = 1, bool keepdim = false,
           Site site = Site::here());
// The largest (smallest) values along `dim` and where they are (the first on ties).
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false, Site site = Site::here());
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim = false, Site site = Site::here());
// Running sum along `dim` (accumulated in double, or int64 for integers).
Tensor cumsum(const Tensor& x, int64_t dim, Site site = Site::here());
// The int64 indices that sort `x` along `dim` (stable: ties keep their order; NaN sorts as the
// largest value), and sort: the sorted values with those indices.
Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false, Site site = Site::here());
ValuesIndices sort(const Tensor& x, int64_t dim = -1, bool descending = false, Site site = Site::here());
// The k largest (smallest) values along `dim`, in order, and their indices.
ValuesIndices topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true, Site site = Site::here());
Tensor logsumexp(const Tensor& x, Dims dims, bool keepdim = false, Site site = Site::here());
Tensor softmax(const Tensor& x, int64_t dim, Site site = Site::here());
Tensor log_softmax(const Tensor& x, int64_t dim, Site site = Site::here());
// Sums `x` down to `shape` (the inverse of broadcasting `shape` to x's shape).
Tensor sum_to(const Tensor& x, const Shape& shape, Site site = Site::here());

// ---------- linear algebra, convolution, pooling (oneDNN on CPU for float32) ----------
// [..., M, K] x [..., K, N] -> [..., M, N], batch dims broadcast; 1-D operands as in NumPy.
Tensor matmul(const Tensor& a, const Tensor& b, Site site = Site::here());
// Einstein summation with NumPy/PyTorch semantics: "ij,jk->ik" (explicit output), "ij,jk"
// (implicit: the letters used once, in ASCII order, after "..."), "..." for broadcast batch
// dims, a letter repeated in one operand for its diagonal ("ii->i", "ii->"), and summation over
// letters absent from the output. Letters shared by operands broadcast where one size is 1; an
// explicit output without "..." sums the ellipsis dims, as in PyTorch. Operands are floating
// point; the result has their promoted dtype. A composite of permute, reshape, index_select,
// sum and matmul, contracting left to right in pairs (so it allocates intermediates and
// differentiates). Throws ValueError for a malformed equation (invalid character, misused
// "...", unknown or repeated output letter, operand count) and ShapeError when an operand's
// rank or a letter's sizes do not fit, naming the equation and the caller's line.
Tensor einsum(const std::string& equation, const std::vector<Tensor>& operands, Site site = Site::here());
// x: (N, C, H, W), weight: (O, C/groups, KH, KW), bias: (O) or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              Shape stride = {1, 1}, Shape padding = {0, 0}, Shape dilation = {1, 1},
              int64_t groups = 1, Site site = Site::here());
// torch.nn.functional.conv_transpose2d: the adjoint of conv2d, computed by the op
// conv2d_backward_input. x: (N, C_in, H, W), weight: (C_in, C_out/groups, KH, KW),
// bias: (C_out) or undefined. The result is (N, C_out, H', W') with
// H' = (H - 1) * stride - 2 * padding + dilation * (KH - 1) + output_padding + 1.
// `output_padding` must be smaller than the stride or the dilation in each dim. Throws
// ShapeError naming the operands when they do not fit together.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                        Shape stride = {1, 1}, Shape padding = {0, 0}, Shape output_padding = {0, 0},
                        int64_t groups = 1, Shape dilation = {1, 1}, Site site = Site::here());
// 1-D convolution: conv2d over a height of 1. x: (N, C, L), weight: (O, C/groups, K),
// bias: (O) or undefined; the result is (N, O, L'), L' = (L + 2 padding - dilation (K-1) - 1)
// / stride + 1.
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), int64_t stride = 1,
              int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1, Site site = Site::here());
// 3-D convolution, as torch.nn.functional.conv3d. x: (N, C, D, H, W), weight:
// (O, C/groups, KD, KH, KW), bias: (O) or undefined; stride, padding and dilation take one value
// or (depth, height, width). Runs KD 2-D convolutions with the output depths folded into the
// batch, so it differentiates (to any order) and compiles as conv2d. Throws ShapeError for
// other ranks, a window larger than the padded input, or channels that do not fit.
Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Shape stride = {1},
              Shape padding = {0}, Shape dilation = {1}, int64_t groups = 1, Site site = Site::here());
// Max and mean over KD x KH x KW windows of (N, C, D, H, W) (padding never wins a max and counts
// as zeros in a mean, as PyTorch's defaults); stride defaults to the kernel. Composites of the
// 2-D pools over the window's depth offsets.
Tensor max_pool3d(const Tensor& x, Shape kernel, Shape stride = {}, Shape padding = {0}, Site site = Site::here());
Tensor avg_pool3d(const Tensor& x, Shape kernel, Shape stride = {}, Shape padding = {0}, Site site = Site::here());
Tensor max_pool2d(const Tensor& x, Shape kernel, Shape stride = {}, Shape padding = {0, 0},
                  Site site = Site::here());
Tensor avg_pool2d(const Tensor& x, Shape kernel, Shape stride = {}, Shape padding = {0, 0},
                  Site site = Site::here());
// Mean over `output_size` (oh, ow; one value means both) bins of the last two dims of x
// (N, C, H, W) or (C, H, W), as torch's adaptive_avg_pool2d: bin i of H spans rows
// [floor(i H / oh), ceil((i + 1) H / oh)). A 1x1 output is a plain mean, and bins that tile
// the input evenly run avg_pool2d; other sizes are a composite of slices and means (one per
// bin row and bin column). Throws ShapeError for another rank or a non-positive size.
Tensor adaptive_avg_pool2d(const Tensor& x, Shape output_size, Site site = Site::here());

// ---------- joining, splitting, indexing ----------
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0, Site site = Site::here());
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0, Site site = Site::here());
// Pieces of the given sizes along `dim` (they must add up to its size).
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0, Site site = Site::here());
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0,
                          Site site = Site::here());
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0,
                          Site site = Site::here());
// Rows of `x` along `dim` picked by the 1-D int64/int32 `index`.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index, Site site = Site::here());
// out[i][j] = x[i][index[i][j]] (for dim = 1), like torch.gather.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index, Site site = Site::here());
// `weight` (num_embeddings, dim) rows picked by integer `indices` of any shape.
Tensor embedding(const Tensor& weight, const Tensor& indices, Site site = Site::here());
// int indices -> float32 one-hot vectors in a new last dim.
Tensor one_hot(const Tensor& indices, int64_t num_classes, Site site = Site::here());

// ---------- comparisons of whole tensors (tests, debugging) ----------
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8,
              Site site = Site::here());
bool equal(const Tensor& a, const Tensor& b, Site site = Site::here());

}  // namespace tl
