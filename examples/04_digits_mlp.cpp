// Recognizes 8x8 handwritten digits (data/digits.csv, 1797 images) with a 64-128-10 MLP:
// pixels scaled by a Standardizer fitted on the training split, 4 prefetching workers,
// Adam. Exits nonzero below 95% test accuracy.
// Usage: 04_digits_mlp [--device cpu|cuda] [path/to/digits.csv]
#include <tl/tl.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace data = tl::data;

double accuracy(tl::nn::Module& model, const data::Dataset& dataset, tl::Device device) {
  tl::NoGradGuard no_grad;
  std::vector<int64_t> all(static_cast<size_t>(dataset.size()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  data::Batch b = dataset.get_batch(all);
  tl::Tensor predicted = model(b.x.to(device)).argmax(1);
  return tl::eq(predicted, b.y.to(device)).to(tl::kFloat32).mean().item<float>();
}

int main(int argc, char** argv) {
  // --device cuda trains on the GPU (the same code; the compiled step then runs eagerly there).
  tl::Device device = tl::kCPU;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--device" && i + 1 < argc) device = std::string(argv[++i]) == "cuda" ? tl::kCUDA : tl::kCPU;
    else path = argv[i];
  }
  if (path.empty()) path = std::string(TL_DATA_DIR) + "/digits.csv";
  auto start = std::chrono::steady_clock::now();
  tl::manual_seed(0);

  // The labels are written as numbers; kClasses makes them class indices (sorted: "0" -> 0).
  auto digits = data::read_csv(path, {.target = "digit", .target_kind = data::TargetKind::kClasses});
  std::printf("%s: %lld images of %zu pixels, %lld classes\n", path.c_str(),
              static_cast<long long>(digits->size()), digits->feature_names().size(),
              static_cast<long long>(digits->num_classes()));

  auto [train_raw, test_raw] = data::random_split(digits, 0.8);
  data::Standardizer standardizer;
  standardizer.fit(*train_raw);
  auto train = standardizer.transform(train_raw);
  auto test = standardizer.transform(test_raw);

  data::DataLoader loader(train, {.batch_size = 32, .shuffle = true, .num_workers = 2, .device = device});
  tl::nn::Sequential model(tl::nn::Linear(64, 128), tl::nn::ReLU(), tl::nn::Linear(128, digits->num_classes()));
  model.to(device);
  tl::optim::Adam opt(model.parameters(), {.lr = 1e-3});

  // One compiled training step (tl::compile; TL_COMPILE=0 runs it eagerly with the same numbers).
  auto train_step = tl::compile([&](tl::Tensor x, tl::Tensor y) {
    tl::Tensor loss = tl::nn::cross_entropy(model(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    return loss;
  });
  for (int epoch = 1; epoch <= 20; ++epoch) {
    double total = 0;
    int64_t seen = 0;
    for (auto [x, y] : loader) {
      tl::Tensor loss = train_step(x, y);
      total += loss.item<float>() * static_cast<double>(x.size(0));
      seen += x.size(0);
    }
    std::printf("epoch %2d  loss %.4f\n", epoch, total / static_cast<double>(seen));
  }
  double test_acc = accuracy(model, *test, device);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("test accuracy %.3f on %lld images (%.1f s)\n", test_acc, static_cast<long long>(test->size()),
              seconds);
  return test_acc >= 0.95 ? 0 : 1;  // data/README.md: about 97%
}
