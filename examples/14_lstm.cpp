// Counts the 1s in binary sequences of 1 to 16 steps with an LSTM: the sequences are padded to
// 16 steps with 1s, and `lengths` tells the LSTM where each one ends, so it must ignore the
// padding. The count is a class 0..16 read from the final hidden state h_n. Each step trains on a
// fresh random batch with one compiled training step (the lengths are an input of the compiled
// program). Exits nonzero below 97% accuracy on 2000 new sequences.
#include <tl/tl.h>

#include <chrono>
#include <cstdio>

constexpr int64_t kMaxLen = 16;

struct Batch {
  tl::Tensor x;        // (N, kMaxLen, 1): the bits, padded with 1s
  tl::Tensor lengths;  // (N) int64, in [1, kMaxLen]
  tl::Tensor count;    // (N) int64: the number of 1s within each length
};

Batch make_batch(int64_t n) {
  tl::Tensor bits = tl::randint(0, 2, {n, kMaxLen}).to(tl::kFloat32);
  tl::Tensor lengths = tl::randint(1, kMaxLen + 1, {n});
  tl::Tensor valid = tl::lt(tl::arange(kMaxLen).unsqueeze(0), lengths.unsqueeze(1));  // (N, kMaxLen)
  tl::Tensor count = tl::where(valid, bits, tl::zeros_like(bits)).sum({1}).to(tl::kInt64);
  tl::Tensor padded = tl::where(valid, bits, tl::ones_like(bits));
  return {padded.unsqueeze(2), lengths, count};
}

struct Counter : tl::nn::Module {
  tl::nn::LSTM lstm{1, 32, {.batch_first = true}};
  tl::nn::Linear head{32, kMaxLen + 1};
  Counter() {
    register_module("lstm", lstm);
    register_module("head", head);
  }
  // Logits (N, kMaxLen + 1) from the last layer's final state.
  tl::Tensor forward(const tl::Tensor& x, const tl::Tensor& lengths) {
    tl::nn::RecurrentOutput r = lstm(x, {}, {}, lengths);
    return head(r.h_n[0]);
  }
};

int main() {
  auto start = std::chrono::steady_clock::now();
  tl::manual_seed(0);
  Counter model;
  tl::optim::Adam opt(model.parameters(), {.lr = 1e-2});
  auto train_step = tl::compile([&](tl::Tensor x, tl::Tensor lengths, tl::Tensor count) {
    tl::Tensor loss = tl::nn::cross_entropy(model.forward(x, lengths), count);
    opt.zero_grad();
    loss.backward();
    opt.step();
    return loss;
  });
  for (int step = 1; step <= 400; ++step) {
    Batch b = make_batch(64);
    tl::Tensor loss = train_step(b.x, b.lengths, b.count);
    if (step % 100 == 0) std::printf("step %3d  loss %.4f\n", step, loss.item<float>());
  }

  tl::NoGradGuard no_grad;
  Batch test = make_batch(2000);
  tl::Tensor predicted = model.forward(test.x, test.lengths).argmax(1);
  double accuracy = tl::eq(predicted, test.count).to(tl::kFloat32).mean().item<float>();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("test accuracy %.3f on 2000 sequences (%.1f s)\n", accuracy, seconds);
  return accuracy >= 0.97 ? 0 : 1;
}
