// A small ablation: a tanh MLP fits y = sin(3x) under a 2 x 2 sweep of learning rate and
// width. Each configuration is a tl::Run (config, metrics, plot.svg in its own folder); the
// sweep ends with the comparison table that `tl-runs compare` prints.
// Usage: 06_ablation [runs-folder]   (default: a fresh folder under the system temp folder)
#include <tl/tl.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  fs::path root = argc > 1 ? fs::path(argv[1])
                           : fs::temp_directory_path() / ("tl_06_ablation_" + std::to_string(::getpid()));

  tl::manual_seed(0);
  tl::Tensor x = tl::linspace(-2.0, 2.0, 256).reshape({256, 1});
  tl::Tensor y = tl::sin(3.0 * x);

  constexpr int kSteps = 300;
  for (double lr : {3e-3, 3e-2}) {
    for (int width : {8, 32}) {
      tl::manual_seed(0);  // same initialization stream for every configuration
      tl::Run run("sine", {{"lr", lr}, {"width", width}, {"optimizer", "adam"}, {"steps", kSteps}},
                  {.root = root, .print_summary = false});
      tl::nn::Sequential model(tl::nn::Linear(1, width), tl::nn::Tanh(), tl::nn::Linear(width, width),
                               tl::nn::Tanh(), tl::nn::Linear(width, 1));
      tl::optim::Adam opt(model.parameters(), {.lr = lr});
      tl::ProgressBar bar = run.progress(kSteps);
      auto train_step = tl::compile([&] {
        tl::Tensor loss = tl::nn::mse_loss(model(x), y);
        opt.zero_grad();
        loss.backward();
        opt.step();
        return loss;
      });
      for (int step = 0; step < kSteps; ++step) {
        tl::Tensor loss = train_step();
        run.log("loss", loss);  // kept as a tensor; read when the run writes its metrics
        bar.update();
      }
    }
  }

  std::cout << "\n" << tl::compare_runs(root, {.metric = "loss", .sort = "final", .plot = root / "loss.svg"});
  std::cout << "runs and plots in " << root.string() << "\n";
  // The widest, fastest-learning configuration fits the curve; the sweep must show it.
  auto runs = tl::list_runs(root);
  double best = 1e9;
  for (auto& run : runs)
    for (auto& r : tl::read_metrics(run.path / "metrics.jsonl").records) best = std::min(best, r.value);
  return runs.size() == 4 && best < 0.02 ? 0 : 1;
}
