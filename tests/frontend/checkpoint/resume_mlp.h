// The small training run the resume tests share: an MLP with dropout (so the RNG state
// matters) trained with Adam on a deterministic synthetic stream.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
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

// A fixed table of 100 examples for the data-loader resume test: x [100, 8], y [100, 4].
inline std::shared_ptr<tl::data::TensorDataset> table() {
  std::vector<float> xs(100 * 8), ys(100 * 4);
  for (int i = 0; i < 100; ++i) {
    for (int j = 0; j < 8; ++j) xs[i * 8 + j] = std::sin(0.53f * static_cast<float>(i * 8 + j) + 0.2f);
    for (int k = 0; k < 4; ++k) ys[i * 4 + k] = std::cos(xs[i * 8 + k] - xs[i * 8 + k + 4]);
  }
  return std::make_shared<tl::data::TensorDataset>(tl::from_vector<float>(xs, {100, 8}),
                                                   tl::from_vector<float>(ys, {100, 4}));
}

// Batches of 16 from 100 rows: 7 per epoch, the last one short.
inline tl::data::DataLoaderOptions loader_options(int num_workers = 0) {
  return {.batch_size = 16, .shuffle = true, .num_workers = num_workers, .name = "train_loader"};
}

// What one step saw and produced: the batch's bytes (x then y) and the loss, as float bits.
struct Step {
  std::vector<uint32_t> batch;
  uint32_t loss = 0;
  bool operator==(const Step&) const = default;
};

inline void append_bits(std::vector<uint32_t>& out, const tl::Tensor& t) {
  for (float v : t.to_vector<float>()) {
    uint32_t b;
    std::memcpy(&b, &v, 4);
    out.push_back(b);
  }
}

// Trains `steps` steps on batches from `loader`, crossing epoch boundaries as needed, and
// leaves the loader just after the last batch it handed out.
inline std::vector<Step> train_from(tl::nn::Module& model, tl::optim::Optimizer& opt, tl::data::DataLoader& loader,
                                    int64_t steps) {
  std::vector<Step> out;
  model.train();
  while (static_cast<int64_t>(out.size()) < steps) {
    for (auto [x, y] : loader) {
      tl::Tensor loss = tl::nn::mse_loss(model(x), y);
      opt.zero_grad();
      loss.backward();
      opt.step();
      Step s;
      append_bits(s.batch, x);
      append_bits(s.batch, y);
      float l = loss.item<float>();
      std::memcpy(&s.loss, &l, 4);
      out.push_back(std::move(s));
      if (static_cast<int64_t>(out.size()) == steps) break;
    }
  }
  return out;
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
