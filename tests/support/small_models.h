// Small models the artifact, program and tlc tests export: an MLP (784-64-10) and a CNN whose
// reshape's leading size is the batch size.
#pragma once

#include "tl/tl.h"

namespace tl::testing {

struct Mlp : nn::Module {
  nn::Linear l1{784, 64}, l2{64, 10};
  Mlp() {
    register_module("l1", l1);
    register_module("l2", l2);
  }
  Tensor forward(const Tensor& x) { return l2.forward(relu(l1.forward(x))); }
};

struct SmallCnn : nn::Module {
  nn::Conv2d conv{1, 4, 3};
  nn::Linear fc{4 * 13 * 13, 10};
  SmallCnn() {
    register_module("conv", conv);
    register_module("fc", fc);
  }
  Tensor forward(const Tensor& x) {
    Tensor h = max_pool2d(relu(conv.forward(x)), {2, 2});
    return fc.forward(h.reshape({x.shape()[0], -1}));
  }
};

// `model`'s output for `x` under no-grad (what an exported program must reproduce).
template <class M>
Tensor eager_forward(M& model, const Tensor& x) {
  NoGradGuard no_grad;
  return model.forward(x);
}

}  // namespace tl::testing
