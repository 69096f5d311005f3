// Looking inside a model while it trains: a forward hook captures a layer's activations and
// a backward hook its output gradients; both are logged as histograms into the run, next to
// the loss and the gradient norm.
#include <tl/tl.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

int main() {
  tl::manual_seed(0);
  tl::Tensor x = tl::randn({256, 8});
  tl::Tensor y = tl::cast(tl::sum(x, {1}) > 0.0, tl::kInt64);  // a class per sign of the sum

  tl::nn::Linear hidden(8, 32), head(32, 2);
  tl::nn::Sequential model(hidden, tl::nn::Tanh(), head);
  tl::optim::Adam opt(model.parameters(), {.lr = 1e-2});
  auto root = std::filesystem::temp_directory_path() / "tl_example_07";
  tl::Run run("hooks", {{"lr", 1e-2}}, {.root = root, .print_summary = false});

  int64_t step = 0;
  hidden.register_forward_hook([&](tl::nn::Module&, const std::vector<tl::Tensor>&, const tl::Tensor& out) {
    if (step % 25 == 0) run.log_histogram("activations/hidden", out, step);
    return std::optional<tl::Tensor>();  // observe only
  });
  hidden.register_full_backward_hook(
      [&](tl::nn::Module&, const std::vector<tl::Tensor>&, const std::vector<tl::Tensor>& grad_out) {
        if (step % 25 == 0) run.log_histogram("gradients/hidden", grad_out[0], step);
      });

  float loss = 0;
  for (step = 0; step <= 100; ++step) {
    tl::Tensor l = tl::nn::cross_entropy(model(x), y);
    opt.zero_grad();
    l.backward();
    run.log_norms(model);
    run.log("loss", l);
    opt.step();
    loss = l.item<float>();
  }
  std::printf("final loss %.4f; histograms in %s\n", loss, (run.path() / "histograms.jsonl").c_str());
  run.close();

  // 5 activation and 5 gradient histograms (steps 0, 25, 50, 75, 100).
  std::ifstream in(run.path() / "histograms.jsonl");
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  std::filesystem::remove_all(run.path());
  return lines == 10 && loss < 0.2f ? 0 : 1;
}
