// Interrupt and resume: trains an MLP with dropout for 40 steps straight, then again with a
// checkpoint after 20 steps loaded into a freshly built model and optimizer, and checks that
// both runs produce the same losses and weights bit for bit.
#include <tl/tl.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

tl::nn::Sequential make_model() {
  return tl::nn::Sequential(tl::nn::Linear(4, 32), tl::nn::ReLU(), tl::nn::Dropout(0.2), tl::nn::Linear(32, 1));
}

// Step `step`'s batch: y = x0 - 2 x1 + x2 x3 on a deterministic stream of inputs.
void batch(int64_t step, tl::Tensor& x, tl::Tensor& y) {
  std::vector<float> xs(32 * 4), ys(32);
  for (int i = 0; i < 32; ++i) {
    for (int j = 0; j < 4; ++j) xs[i * 4 + j] = std::sin(0.61f * static_cast<float>(step * 128 + i * 4 + j));
    ys[i] = xs[i * 4] - 2 * xs[i * 4 + 1] + xs[i * 4 + 2] * xs[i * 4 + 3];
  }
  x = tl::from_vector<float>(xs, {32, 4});
  y = tl::from_vector<float>(ys, {32, 1});
}

std::vector<float> train(tl::nn::Module& model, tl::optim::Optimizer& opt, int64_t from, int64_t to) {
  std::vector<float> losses;
  for (int64_t step = from; step < to; ++step) {
    tl::Tensor x, y;
    batch(step, x, y);
    tl::Tensor loss = tl::nn::mse_loss(model(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    losses.push_back(loss.item<float>());
  }
  return losses;
}

}  // namespace

int main() {
  const int64_t total = 40, interrupt_at = 20;
  std::string path = "05_resume.safetensors";

  // The uninterrupted run.
  tl::manual_seed(0);
  auto model = make_model();
  tl::optim::Adam opt(model.parameters(), {.lr = 1e-2});
  std::vector<float> straight = train(model, opt, 0, total);

  // The same run, interrupted: train, save everything, and drop the objects.
  tl::manual_seed(0);
  std::vector<float> resumed;
  {
    auto first = make_model();
    tl::optim::Adam first_opt(first.parameters(), {.lr = 1e-2});
    resumed = train(first, first_opt, 0, interrupt_at);
    tl::save(path, first, &first_opt, {.step = interrupt_at, .metadata = {{"example", "05_resume"}}});
  }
  // A new process would start here: build the model anew (its random init is overwritten),
  // load the checkpoint (weights, Adam moments, RNG state, step) and continue.
  tl::manual_seed(12345);
  auto second = make_model();
  tl::optim::Adam second_opt(second.parameters(), {.lr = 1e-2});
  tl::CheckpointExtra extra;
  tl::load(path, second, &second_opt, &extra);
  std::printf("resumed at step %lld (saved by %s)\n", static_cast<long long>(extra.step),
              extra.metadata["example"].c_str());
  std::vector<float> rest = train(second, second_opt, extra.step, total);
  resumed.insert(resumed.end(), rest.begin(), rest.end());
  std::remove(path.c_str());

  bool same = straight.size() == resumed.size() &&
              std::memcmp(straight.data(), resumed.data(), straight.size() * sizeof(float)) == 0;
  auto a = model.parameters(), b = second.parameters();
  for (size_t i = 0; i < a.size(); ++i) {
    auto va = a[i].to_vector<float>(), vb = b[i].to_vector<float>();
    same = same && std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)) == 0;
  }
  for (int64_t step = 0; step < total; step += 5) {
    std::printf("step %2lld  straight %.6f  resumed %.6f\n", static_cast<long long>(step), straight[step], resumed[step]);
  }
  std::printf(same ? "resumed run is bit-identical to the uninterrupted one\n" : "MISMATCH: resumed run differs\n");
  return same ? 0 : 1;
}
