// Train, export, serve: an MLP and a small CNN learn the 8x8 digits (data/digits.csv), each
// is exported as a compiled artifact (tl::export_program), and a separate process (this
// program again, in serving mode) loads the artifact and classifies the test images. The
// served outputs must equal the trained model's, bit for bit, and be at least 90% accurate.
// Usage: 09_export_and_serve [path/to/digits.csv] [output folder]
//        09_export_and_serve --serve MODEL.tlart IMAGES.npy LOGITS.npy   (the serving side)
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <tl/tl.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

extern char** environ;
namespace data = tl::data;
namespace fs = std::filesystem;

namespace {

// The serving side: everything it knows comes from the artifact.
int serve(const char* model_path, const char* images_path, const char* logits_path) {
  tl::Program model = tl::load_program(model_path);
  tl::Tensor logits = model({tl::load_npy(images_path)})[0];
  tl::save_npy(logits_path, logits);
  std::printf("  served %s: %s -> %s %s\n", fs::path(model_path).filename().c_str(),
              model.inputs()[0].shape.str().c_str(), model.outputs()[0].name.c_str(),
              model.outputs()[0].shape.str().c_str());
  return 0;
}

// Runs this program in serving mode in a new process; returns its exit status.
int run_server(const fs::path& model, const fs::path& images, const fs::path& logits) {
  std::string self = fs::read_symlink("/proc/self/exe").string();
  std::vector<std::string> args = {self, "--serve", model.string(), images.string(), logits.string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);  // keep this process's lines before the server's
  pid_t pid = 0;
  if (posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv.data(), environ) != 0) return 127;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

void train(tl::nn::Module& model, const std::shared_ptr<data::Dataset>& train_set, int epochs,
           const tl::Shape& item_shape) {
  data::DataLoader loader(train_set, {.batch_size = 32, .shuffle = true});
  tl::optim::Adam opt(model.parameters(), {.lr = 2e-3});
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    for (auto [x, y] : loader) {
      tl::Shape shape = item_shape;
      shape.insert(0, x.size(0));
      tl::Tensor loss = tl::nn::cross_entropy(model(x.reshape(shape)), y);
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "--serve") == 0) return serve(argv[2], argv[3], argv[4]);
  std::string path = argc > 1 ? argv[1] : std::string(TL_DATA_DIR) + "/digits.csv";
  fs::path out = argc > 2 ? fs::path(argv[2]) : fs::temp_directory_path() / ("tl_09_export_and_serve_" + std::to_string(getpid()));
  fs::create_directories(out);
  tl::manual_seed(0);

  auto digits = data::read_csv(path, {.target = "digit", .target_kind = data::TargetKind::kClasses});
  auto [train_raw, test_raw] = data::random_split(digits, 0.8);
  data::Standardizer standardizer;
  standardizer.fit(*train_raw);
  auto train_set = standardizer.transform(train_raw);
  auto test_set = standardizer.transform(test_raw);
  std::vector<int64_t> all(static_cast<size_t>(test_set->size()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  data::Batch test = test_set->get_batch(all);
  const int64_t n = test.x.size(0);

  tl::nn::Sequential mlp(tl::nn::Linear(64, 128), tl::nn::ReLU(), tl::nn::Linear(128, 10));
  tl::nn::Sequential cnn(tl::nn::Conv2d(1, 16, 3, {.padding = 1}), tl::nn::ReLU(), tl::nn::MaxPool2d(2),
                         tl::nn::Flatten(), tl::nn::Linear(16 * 4 * 4, 10));
  struct Case {
    const char* name;
    tl::nn::Module& model;
    tl::Shape item;
  };
  Case cases[] = {{"mlp", mlp, tl::Shape{64}}, {"cnn", cnn, tl::Shape{1, 8, 8}}};

  int failures = 0;
  for (Case& c : cases) {
    train(c.model, train_set, 10, c.item);
    c.model.eval();
    tl::Shape shape = c.item;
    shape.insert(0, n);
    tl::Tensor images = test.x.reshape(shape).contiguous();
    tl::Tensor trained;
    {
      tl::NoGradGuard no_grad;
      trained = c.model(images);
    }
    // Export: the function, example inputs of the served shape, the file.
    fs::path artifact = out / (std::string(c.name) + ".tlart");
    tl::export_program([&](const tl::Tensor& x) { return c.model(x); }, images, artifact.string(),
                       tl::ExportOptions{.input_names = {"images"}, .output_names = {"logits"}});
    std::printf("%s: trained, exported to %s (%lld bytes)\n", c.name, artifact.c_str(),
                static_cast<long long>(fs::file_size(artifact)));

    // Serve it from another process and compare.
    fs::path images_file = out / (std::string(c.name) + "_images.npy");
    fs::path logits_file = out / (std::string(c.name) + "_logits.npy");
    tl::save_npy(images_file.string(), images);
    if (int status = run_server(artifact, images_file, logits_file); status != 0) {
      std::printf("%s: the serving process failed (status %d)\n", c.name, status);
      ++failures;
      continue;
    }
    tl::Tensor served = tl::load_npy(logits_file.string());
    bool same = served.shape() == trained.shape() &&
                std::memcmp(served.data_ptr(), trained.contiguous().data_ptr(), trained.nbytes()) == 0;
    double acc = tl::eq(served.argmax(1), test.y).to(tl::kFloat32).mean().item<float>();
    std::printf("%s: served logits %s the trained model's; accuracy %.3f on %lld test images\n", c.name,
                same ? "equal" : "DIFFER from", acc, static_cast<long long>(n));
    failures += (!same) + (acc < 0.9);
  }
  return failures == 0 ? 0 : 1;
}
