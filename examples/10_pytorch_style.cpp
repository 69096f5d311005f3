// Written the way a PyTorch user writes it: reductions over {0} and -1, x.max(1) with
// structured bindings, x[0], indexing with slices, functional layer norm and activations, a
// gradient set by hand. It trains a tiny softmax classifier on two Gaussian blobs and checks
// it learns them (exit 1 otherwise).
#include <cstdio>

#include <tl/tl.h>

namespace F = tl::nn::functional;

int main() {
  tl::manual_seed(0);
  // Two blobs in 2-D: class 0 around (-1, -1), class 1 around (1, 1).
  const int64_t n = 256;
  tl::Tensor labels = tl::randint(0, 2, {n});
  tl::Tensor centers = labels.to(tl::kFloat32).unsqueeze(1) * 2.0 - 1.0;  // [n, 1]: -1 or 1
  tl::Tensor x = tl::randn({n, 2}) * 0.5 + centers;

  // Standardize features with statistics over dim 0, as x.mean(0) / x.std(0) in PyTorch.
  tl::Tensor mean = x.mean({0}, true);
  tl::Tensor std = tl::std(x, 0, 1, true);
  x = (x - mean) / std;

  tl::Tensor w = (tl::randn({2, 2}) * 0.1).requires_grad_();
  tl::Tensor b = tl::zeros({2}, {.requires_grad = true});
  tl::optim::SGD opt({w, b}, {.lr = 0.5});
  auto model = [&](const tl::Tensor& in) { return tl::leaky_relu(F::layer_norm(in.matmul(w) + b, {2}), 0.1); };
  for (int step = 0; step < 50; ++step) {
    tl::Tensor logits = model(x);
    tl::Tensor loss = -(tl::log_softmax(logits, -1) * tl::one_hot(labels, 2).to(tl::kFloat32)).sum(-1).mean();
    opt.zero_grad();
    loss.backward();
    // Clip the bias gradient by hand: set_grad checks the shape and dtype here.
    b.set_grad(tl::clamp(b.grad(), -1.0, 1.0));
    opt.step();
    if (step % 10 == 0) std::printf("step %2d  loss %.4f\n", step, loss.item<double>());
  }

  tl::NoGradGuard no_grad;
  tl::Tensor logits = model(x);
  auto [best, predicted] = logits.max(1);
  const double accuracy = tl::eq(predicted, labels).to(tl::kFloat32).mean().item<double>();
  std::printf("accuracy %.3f; first sample: label %lld, logits [%.3f, %.3f]; best logit %.3f\n", accuracy,
              static_cast<long long>(labels[0].item<int64_t>()), logits[0][0].item<float>(),
              logits.index({0, tl::Slice(1, 2)}).item<float>(), best[0].item<float>());
  auto top = tl::topk(logits.index({tl::Slice(0, 4)}), 1, -1);
  std::printf("top-1 of the first 4 rows: %s\n", tl::to_string(top.indices.flatten()).c_str());
  return accuracy > 0.9 ? 0 : 1;
}
