// The convolution family against PyTorch 1.13 (python3-torch): conv_transpose2d, conv1d, conv3d,
// max/avg_pool3d, BatchNorm3d, Conv2d's padding modes and padding "same", adaptive_avg_pool2d,
// GroupNorm, InstanceNorm2d and interpolate (nearest, bilinear with and without align_corners). Outputs and the gradients of
// every input in float64, to 1e-9 relative. conv_family_reference.py computes the reference
// at test time from the inputs this test writes.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "interop_util.h"
#include "tl/tl.h"

using namespace tl;
namespace F = tl::nn::functional;

namespace {

using Inputs = std::vector<Tensor>;

struct Case {
  std::string name;          // as in conv_family_reference.py's CASES
  std::vector<Shape> shapes;  // of the inputs, all differentiated
  std::function<Tensor(const Inputs&)> fn;
};

// A layer with the given parameters (the inputs after x) in place of its own.
template <class Layer>
Tensor with_parameters(Layer& layer, const Inputs& in) {
  layer.weight = in[1];
  if (in.size() > 2) layer.bias = in[2];
  return layer(in[0]);
}

std::vector<Case> cases() {
  using nn::PaddingMode;
  auto conv2d_mode = [](PaddingMode mode, bool same) {
    return [mode, same](const Inputs& in) {
      nn::Conv2d conv(4, 6, {3, 4}, {.padding = {2, 1}, .dilation = same ? nn::Size2(2, 1) : nn::Size2(1),
                                     .groups = 2, .padding_mode = mode, .padding_same = same});
      return with_parameters(conv, in);
    };
  };
  auto interpolate = [](F::InterpolateOptions options) {
    return [options](const Inputs& in) { return F::interpolate(in[0], options); };
  };
  const auto bilinear = F::InterpolateMode::kBilinear;
  return {
      {"conv_transpose2d", {{2, 4, 5, 5}, {4, 3, 3, 2}, {6}},
       [](const Inputs& in) { return conv_transpose2d(in[0], in[1], in[2], {2, 1}, {1, 0}, {1, 0}, 2, {1, 2}); }},
      {"conv_transpose2d_dilated", {{1, 2, 4, 4}, {2, 3, 3, 3}},
       [](const Inputs& in) { return conv_transpose2d(in[0], in[1], Tensor(), {1, 1}, {1, 1}, {1, 1}, 1, {2, 2}); }},
      {"conv1d", {{2, 4, 9}, {6, 2, 3}, {6}},
       [](const Inputs& in) { return conv1d(in[0], in[1], in[2], 2, 1, 2, 2); }},
      {"conv2d_reflect", {{2, 4, 5, 6}, {6, 2, 3, 4}, {6}}, conv2d_mode(PaddingMode::kReflect, false)},
      {"conv2d_replicate", {{2, 4, 5, 6}, {6, 2, 3, 4}, {6}}, conv2d_mode(PaddingMode::kReplicate, false)},
      {"conv2d_circular", {{2, 4, 5, 6}, {6, 2, 3, 4}, {6}}, conv2d_mode(PaddingMode::kCircular, false)},
      {"conv2d_same", {{2, 4, 5, 6}, {6, 2, 3, 4}, {6}}, conv2d_mode(PaddingMode::kZeros, true)},
      {"conv2d_same_circular", {{2, 4, 5, 6}, {6, 2, 3, 4}, {6}}, conv2d_mode(PaddingMode::kCircular, true)},
      {"conv1d_same_reflect", {{2, 3, 7}, {2, 3, 4}},
       [](const Inputs& in) {
         nn::Conv1d conv(3, 2, 4, {.bias = false, .padding_mode = PaddingMode::kReflect, .padding_same = true});
         return with_parameters(conv, in);
       }},
      {"adaptive_3x4", {{2, 3, 7, 6}}, [](const Inputs& in) { return adaptive_avg_pool2d(in[0], {3, 4}); }},
      {"adaptive_5x5", {{2, 3, 7, 6}}, [](const Inputs& in) { return adaptive_avg_pool2d(in[0], {5, 5}); }},
      {"adaptive_7x3", {{2, 3, 7, 6}}, [](const Inputs& in) { return adaptive_avg_pool2d(in[0], {7, 3}); }},
      {"adaptive_1x1", {{2, 3, 7, 6}}, [](const Inputs& in) { return adaptive_avg_pool2d(in[0], {1, 1}); }},
      {"group_norm", {{2, 6, 4, 5}, {6}, {6}},
       [](const Inputs& in) {
         nn::GroupNorm norm(3, 6);
         return with_parameters(norm, in);
       }},
      {"instance_norm", {{2, 6, 4, 5}, {6}, {6}},
       [](const Inputs& in) {
         nn::InstanceNorm2d norm(6, {.affine = true});
         return with_parameters(norm, in);
       }},
      {"nearest_size", {{2, 3, 3, 4}}, interpolate({.size = {5, 7}})},
      {"nearest_down", {{2, 3, 7, 6}}, interpolate({.size = {3, 4}})},
      {"nearest_scale2", {{2, 3, 3, 4}}, interpolate({.scale_factor = {2}})},
      {"nearest_scale_odd", {{2, 3, 5, 4}}, interpolate({.scale_factor = {1.5, 2.3}})},
      {"bilinear", {{2, 3, 3, 4}}, interpolate({.size = {5, 7}, .mode = bilinear})},
      {"bilinear_align", {{2, 3, 3, 4}}, interpolate({.size = {5, 7}, .mode = bilinear, .align_corners = true})},
      {"bilinear_down", {{2, 3, 7, 6}}, interpolate({.size = {3, 4}, .mode = bilinear})},
      {"bilinear_down_align", {{2, 3, 7, 6}}, interpolate({.size = {3, 1}, .mode = bilinear, .align_corners = true})},
      {"bilinear_scale", {{2, 3, 5, 4}}, interpolate({.scale_factor = {1.7}, .mode = bilinear})},
      {"conv3d", {{2, 4, 7, 5, 4}, {6, 2, 3, 2, 3}, {6}},
       [](const Inputs& in) {
         nn::Conv3d conv(4, 6, {3, 2, 3}, {.stride = {2, 1, 1}, .padding = {1, 0, 2}, .dilation = {2, 1, 1}, .groups = 2});
         return with_parameters(conv, in);
       }},
      {"conv3d_plain", {{1, 3, 4, 4, 5}, {2, 3, 2, 2, 2}},
       [](const Inputs& in) { return F::conv3d(in[0], in[1]); }},
      {"max_pool3d", {{2, 3, 5, 4, 6}},
       [](const Inputs& in) {
         nn::MaxPool3d pool({3, 2, 2}, {.stride = {2, 1, 2}, .padding = {1, 1, 0}});
         return pool(in[0]);
       }},
      {"avg_pool3d", {{2, 3, 5, 4, 6}},
       [](const Inputs& in) {
         nn::AvgPool3d pool({2, 3, 2}, {.padding = {1, 1, 1}});
         return pool(in[0]);
       }},
      {"batch_norm3d", {{2, 3, 3, 2, 4}, {3}, {3}},
       [](const Inputs& in) {
         nn::BatchNorm3d norm(3);
         return with_parameters(norm, in);
       }},
  };
}


}  // namespace

TEST_CASE("the convolution family matches PyTorch's outputs and gradients in float64", "[interop][nn][conv]") {
  std::string why;
  if (!test::torch_available(why)) {
    WARN("skipped: " << why << "; install python3-torch to compare against PyTorch");
    SUCCEED();
    return;
  }
  test::TempDir dir("tl_interop_conv_family_");
  manual_seed(21);
  const std::vector<Case> all = cases();
  std::vector<Inputs> inputs;
  std::vector<Tensor> weightings;  // r: the loss is sum(y * r)
  for (const Case& c : all) {
    Inputs in;
    for (size_t i = 0; i < c.shapes.size(); ++i) {
      in.push_back(randn(c.shapes[i], {.dtype = kFloat64}));
      save_npy((dir.path / (c.name + ".in" + std::to_string(i) + ".npy")).string(), in.back());
    }
    Tensor r = randn(c.fn(in).shape(), {.dtype = kFloat64});
    save_npy((dir.path / (c.name + ".r.npy")).string(), r);
    inputs.push_back(in);
    weightings.push_back(r);
  }
  const std::string command =
      std::string(TL_TORCH_PYTHON) + " " + TL_CONV_FAMILY_REFERENCE_SCRIPT + " " + dir.path.string();
  REQUIRE(std::system(command.c_str()) == 0);
  for (size_t k = 0; k < all.size(); ++k) {
    const Case& c = all[k];
    INFO(c.name);
    Inputs in;
    for (const Tensor& t : inputs[k]) in.push_back(t.detach().requires_grad_());
    Tensor y = c.fn(in);
    (y * weightings[k]).sum().backward();
    CHECK(test::max_relative_error(y, load_npy((dir.path / (c.name + ".y.npy")).string())) < 1e-9);
    for (size_t i = 0; i < in.size(); ++i) {
      INFO("gradient of input " << i);
      CHECK(test::max_relative_error(in[i].grad(), load_npy((dir.path / (c.name + ".g" + std::to_string(i) + ".npy")).string())) <
            1e-9);
    }
  }
}
