// tl::nn: layers, containers, losses and initializers for building models, in the shape
// PyTorch users know (torch.nn), written as plain C++.
//
// Ownership: a Module is a handle, like a Tensor. A module's parameters, buffers,
// children, train/eval mode and hooks live in one shared state, and layers keep their
// parameters as Tensor handles. Copying a module (or passing it by value into a
// Sequential, or registering it as a child) therefore gives another handle to the same
// layer: training through any copy trains all of them, and an optimizer built from
// `model.parameters()` updates the tensors every copy sees. This makes the obvious code work:
//
//   tl::nn::Sequential model(tl::nn::Linear(4, 16), tl::nn::Tanh(), tl::nn::Linear(16, 3));
//   auto y = model(x);
//   tl::optim::Adam opt(model.parameters(), {.lr = 1e-2});
//
// A custom layer is a plain subclass with a forward(). Its child layers are members
// registered once, in the constructor; they then train and save with no extra code:
//
//   struct MLP : tl::nn::Module {
//     tl::nn::Linear fc1{4, 16}, fc2{16, 3};
//     MLP() { register_module("fc1", fc1); register_module("fc2", fc2); }
//     tl::Tensor forward(const tl::Tensor& x) override { return fc2(tl::relu(fc1(x))); }
//   };
//
// What the handle model asks of you: replace a parameter's values in place (`copy_` under
// NoGradGuard, or load_state_dict) rather than assigning a new Tensor to the member, and
// keep non-handle members (plain ints, vectors) to configuration that never changes.
#pragma once

#include "tl/nn/attention.h"
#include "tl/nn/functional.h"
#include "tl/nn/init.h"
#include "tl/nn/layers.h"
#include "tl/nn/loss.h"
#include "tl/nn/module.h"
#include "tl/nn/recurrent.h"
#include "tl/nn/summary.h"
