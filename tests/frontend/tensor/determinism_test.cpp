#include <catch2/catch.hpp>

#include <cstring>

#include "tl/tl.h"

using namespace tl;

namespace {
// Trains a small CNN + MLP for a few steps at `threads` threads; returns every loss and the
// final parameters, flattened.
std::vector<float> train(int threads) {
  int previous = get_num_threads();
  set_num_threads(threads);
  manual_seed(7);
  nn::Sequential model(nn::Conv2d(1, 8, 3, {.padding = 1}), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                       nn::Linear(8 * 14 * 14, 256), nn::ReLU(), nn::Dropout(0.1), nn::Linear(256, 10));
  optim::Adam opt(model.parameters(), {.lr = 1e-3});
  Tensor x = randn({64, 1, 28, 28});
  Tensor y = randint(0, 10, {64});
  std::vector<float> out;
  for (int step = 0; step < 4; ++step) {
    Tensor loss = nn::cross_entropy(model(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    out.push_back(loss.item<float>());
  }
  for (const Tensor& p : model.parameters()) {
    auto v = p.to_vector<float>();
    out.insert(out.end(), v.begin(), v.end());
  }
  set_num_threads(previous);
  return out;
}
}  // namespace

TEST_CASE("training is bitwise identical at 1 and 2 threads", "[determinism]") {
  std::vector<float> one = train(1);
  std::vector<float> two = train(2);
  REQUIRE(one.size() == two.size());
  size_t differing = 0;
  for (size_t i = 0; i < one.size(); ++i) differing += std::memcmp(&one[i], &two[i], sizeof(float)) != 0;
  CHECK(differing == 0);
  CHECK(std::memcmp(one.data(), train(1).data(), one.size() * sizeof(float)) == 0);
}
