// The small training run the resume tests share: an MLP with dropout (so the RNG state
// matters) trained with Adam on a deterministic synthetic stream.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tl/tl.h"

namespace resume {

inline tl::nn::Sequential make_mlp() {
  return tl::nn::Sequential(tl::nn::Linear(8, 32), tl::nn::ReLU(), tl::nn::Dropout(0.3), tl::nn::Linear(32, 4));
}

inline tl::optim::AdamOptions adam_options() { return {.lr = 1e-2, .weight_decay = 1e-4}; }

// Batch `step` of the stream: 16 rows, x in [-1, 1], y a fixed smooth function of x.
inline void batch(int64_t step, tl::Tensor& x, tl::Tensor& y) {
  std::vector<float> xs(16 * 8), ys(16 * 4);
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 8; ++j) xs[i * 8 + j] = std::sin(0.37f * static_cast<float>(step * 128 + i * 8 + j));
    for (int k = 0; k < 4; ++k) ys[i * 4 + k] = std::cos(xs[i * 8 + k] + xs[i * 8 + k + 4]);
  }
  x = tl::from_vector<float>(xs, {16, 8});
  y = tl::from_vector<float>(ys, {16, 4});
}

// Trains steps [from, to) and returns each step's loss as its float bits.
inline std::vector<uint32_t> train(tl::nn::Module& model, tl::optim::Optimizer& opt, int64_t from, int64_t to) {
  std::vector<uint32_t> losses;
  model.train();
  for (int64_t s = from; s < to; ++s) {
    tl::Tensor x, y;
    batch(s, x, y);
    tl::Tensor loss = tl::nn::mse_loss(model(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    float l = loss.item<float>();
    uint32_t bits;
    std::memcpy(&bits, &l, 4);
    losses.push_back(bits);
  }
  return losses;
}

// Every parameter element's float bits, in named_parameters order.
inline std::vector<uint32_t> parameter_bits(const tl::nn::Module& model) {
  std::vector<uint32_t> bits;
  for (const auto& [name, p] : model.named_parameters()) {
    for (float v : p.to_vector<float>()) {
      uint32_t b;
      std::memcpy(&b, &v, 4);
      bits.push_back(b);
    }
  }
  return bits;
}

}  // namespace resume
