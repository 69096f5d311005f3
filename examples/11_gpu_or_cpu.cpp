// The same training code on a GPU or the CPU, chosen by one flag: the digits MLP of example 04
// (64-128-10, Adam) trained on `device`. The model moves there with one call, the loader
// delivers batches there (its workers copy each batch while the step before runs), and
// nothing else changes. Exits nonzero below 95% test accuracy on either device.
// Usage: 11_gpu_or_cpu [--device auto|cpu|cuda] [path/to/digits.csv]
#include <tl/tl.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace data = tl::data;

int run(int argc, char** argv) {
  std::string choice = "auto", path = std::string(TL_DATA_DIR) + "/digits.csv";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--device") == 0 && i + 1 < argc) choice = argv[++i];
    else path = argv[i];
  }
  // The one line that picks the device.
  tl::Device device = choice == "cuda" || (choice == "auto" && tl::cuda_device::is_available()) ? tl::kCUDA : tl::kCPU;
  std::printf("training on %s%s\n", device.str().c_str(),
              device == tl::kCUDA ? (" (" + tl::cuda_device::name() + ")").c_str() : "");

  tl::manual_seed(0);
  auto digits = data::read_csv(path, {.target = "digit", .target_kind = data::TargetKind::kClasses});
  auto [train_raw, test_raw] = data::random_split(digits, 0.8);
  data::Standardizer standardizer;
  standardizer.fit(*train_raw);
  auto train = standardizer.transform(train_raw);
  auto test = standardizer.transform(test_raw);

  data::DataLoader loader(train, {.batch_size = 32, .shuffle = true, .num_workers = 2, .device = device});
  tl::nn::Sequential model(tl::nn::Linear(64, 128), tl::nn::ReLU(), tl::nn::Linear(128, digits->num_classes()));
  model.to(device);
  tl::optim::Adam opt(model.parameters(), {.lr = 1e-3});

  for (int epoch = 1; epoch <= 20; ++epoch) {
    tl::Tensor total = tl::zeros({}, {.device = device});  // summed on the device: no wait per step
    int64_t seen = 0;
    for (auto [x, y] : loader) {
      tl::Tensor loss = tl::nn::cross_entropy(model(x), y);
      opt.zero_grad();
      loss.backward();
      opt.step();
      total = total + loss.detach() * static_cast<double>(x.size(0));
      seen += x.size(0);
    }
    if (epoch % 5 == 0) std::printf("epoch %2d  loss %.4f\n", epoch, total.item<float>() / static_cast<double>(seen));
  }

  tl::NoGradGuard no_grad;
  std::vector<int64_t> all(static_cast<size_t>(test->size()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  data::Batch b = test->get_batch(all);
  tl::Tensor predicted = model(b.x.to(device)).argmax(1);
  const double accuracy = tl::eq(predicted, b.y.to(device)).to(tl::kFloat32).mean().item<float>();
  std::printf("test accuracy %.3f on %lld images (%s)\n", accuracy, static_cast<long long>(test->size()),
              device.str().c_str());
  return accuracy >= 0.95 ? 0 : 1;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const tl::Error& e) {  // --device cuda without a GPU, a missing file, ...
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
}
