// The `tl` passes: what each one does, its factory for building pipelines in code, and the
// registration that makes them available by name to tl-opt and to the pipeline driver.
#pragma once

#include <cstdint>
#include <memory>

namespace mlir {
class Operation;
class Pass;
}

namespace tl::passes {

// tl-functionalize (on func.func): removes every tl.assign. The last assign to each
// (argument, flag) pair becomes an extra function result carrying `tl.writeback` (the
// argument's index) and `tl.to_grad` (when flag is set); later direct uses of an assigned
// argument read the assigned value. Fails on an assign whose target is not an argument.
std::unique_ptr<mlir::Pass> create_functionalize_pass();

// tl-fold (on func.func): replaces each registry op whose operands are all tl.constant by
// a tl.constant of its result, computed by the op's eager CPU kernel. Leaves alone results
// of more than kFoldElementLimit elements and ops without a CPU kernel. Also removes the
// exact identities x * 1, x / 1, x - 0 and x + (-0.0) (x + 0 for integers) when x has the
// result's type. Erases the constants it leaves without uses.
std::unique_ptr<mlir::Pass> create_fold_pass();
inline constexpr int64_t kFoldElementLimit = 1 << 20;

// tl-autodiff: expands every tl.grad into the ops of its derivative (passes/autodiff.cpp).
std::unique_ptr<mlir::Pass> create_autodiff_pass();

// tl-fuse-elementwise (on the module): outlines each maximal group of fusible elementwise ops
// (ir::is_fusible_elementwise) into a private func.func carrying `fused = "mul+add+gelu"` (its
// ops in order), called by a func.call at the group's last op. A group has one result: every
// member but that last op has the result's shape (group inputs may broadcast to it) and users
// only in the group. The last op may also be a sum or mean over outer dims
// (ir::is_fusible_reduction) of the group's values: the others then have the shape it reduces,
// and the group is one loop nest accumulating into the reduced output (a bias gradient's sum
// over the batch); with `row-reductions` (a program on CUDA) also a sum over the innermost dim
// (layer norm's statistics). Splat tl.constant inputs are copied into the group. Groups of
// fewer than `min-ops` ops (default 2) stay as they are.
std::unique_ptr<mlir::Pass> create_fuse_elementwise_pass();

// tl-transpose-matmul (on func.func): permute(matmul(a, b), [1, 0]) of 2-D operands becomes
// matmul(permute(b), permute(a)), so a transposed product (a Linear weight's gradient) is
// computed in the layout it is used in instead of being copied there.
std::unique_ptr<mlir::Pass> create_transpose_matmul_pass();

// tl-matmul-epilogue (on func.func): add(matmul(a, b), bias) with a rank-1 bias over the
// product's columns, the matmul used only there, becomes matmul_bias(a, b, bias); a relu that
// is the add's only user is folded too (flag). oneDNN applies both as post-ops.
std::unique_ptr<mlir::Pass> create_matmul_epilogue_pass();

// tl-conv-epilogue (on func.func): a relu that is a conv2d's only user is folded into the
// convolution (its `relu` flag; oneDNN applies it as a post-op).
std::unique_ptr<mlir::Pass> create_conv_epilogue_pass();

// tl-conv-layout (on func.func): a float32 conv2d result read only by other conv2d ops (as
// input or residual) stays in oneDNN's blocked layout between them (the `blocked` bits).
// Inference programs only: run it after autodiff, when backward ops would be its users.
std::unique_ptr<mlir::Pass> create_conv_layout_pass();

// Undoes the fusion of one group: replaces `call` (a func.call of a `fused` function) by the
// group's ops, and erases the function when nothing else calls it. Returns false, changing
// nothing, when `call` is not such a call.
bool unfuse(mlir::Operation* call);

// Registers the passes above and MLIR's generic transforms (canonicalize, cse, symbol-dce,
// ...) with MLIR's pass registry. Idempotent and thread-safe.
void register_passes();

}  // namespace tl::passes
