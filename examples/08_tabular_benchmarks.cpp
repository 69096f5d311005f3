// Trains one small-MLP recipe on three bundled tabular data sets (wine, breast_cancer: class
// accuracy; diabetes: regression R^2) and prints each figure next to what data/README.md says
// a small model reaches. Exits nonzero when one falls clearly short of it. Figures come from
// 5-fold cross-validation, so every example is tested once: one 20% split of 178 or 442 rows
// swings R^2 between 0.2 and 0.6 by luck alone.
#include <tl/tl.h>

#include <cstdio>
#include <string>
#include <vector>

namespace data = tl::data;

struct Task {
  const char* file;
  const char* target;
  bool regression;
  const char* expected;  // data/README.md's figure
  double minimum;        // below this the run fails: the README says that means a bug
};

// Every example of `dataset` as one batch.
data::Batch all_examples(const data::Dataset& dataset) {
  std::vector<int64_t> all(static_cast<size_t>(dataset.size()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  return dataset.get_batch(all);
}

// Trains on `train_raw` and returns the predictions for `test_raw`: class indices, or values.
tl::Tensor fit_and_predict(const Task& task, const data::CsvDataset& table, std::shared_ptr<data::Dataset> train_raw,
                           std::shared_ptr<data::Dataset> test_raw) {
  data::Standardizer standardizer;
  standardizer.fit(*train_raw);  // statistics from the training split only
  auto train = standardizer.transform(train_raw), test = standardizer.transform(test_raw);
  // Regression targets (disease progression, 25..346) are scaled by the training split too.
  float y_mean = 0, y_std = 1;
  if (task.regression) {
    tl::Tensor y = all_examples(*train).y;
    y_mean = y.mean().item<float>();
    y_std = (y - y_mean).pow(2).mean().sqrt().item<float>();
  }
  const int64_t features = static_cast<int64_t>(table.feature_names().size());
  const int64_t outputs = task.regression ? 1 : table.num_classes();
  tl::nn::Sequential model(tl::nn::Linear(features, 32), tl::nn::ReLU(), tl::nn::Linear(32, outputs));
  tl::optim::Adam opt(model.parameters(), {.lr = 3e-3, .weight_decay = 1e-3});
  data::DataLoader loader(train, {.batch_size = 32, .shuffle = true});
  for (int epoch = 0; epoch < 40; ++epoch) {
    for (auto [x, y] : loader) {
      tl::Tensor out = model(x);
      tl::Tensor loss = task.regression ? tl::nn::mse_loss(out.view({-1}), (y - y_mean) / y_std)
                                        : tl::nn::cross_entropy(out, y);
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
  }
  tl::NoGradGuard no_grad;
  tl::Tensor out = model(all_examples(*test).x);
  return task.regression ? out.view({-1}) * y_std + y_mean : out.argmax(1);
}

// Pooled out-of-fold accuracy (classes) or R^2 (regression).
double cross_validate(const Task& task, int folds = 5) {
  tl::manual_seed(0);
  auto table = data::read_csv(std::string(TL_DATA_DIR) + "/" + task.file, {.target = task.target});
  std::vector<int64_t> sizes;
  for (int k = 0; k < folds; ++k) sizes.push_back((k + 1) * table->size() / folds - k * table->size() / folds);
  auto parts = data::random_split(table, sizes);
  double correct = 0, squared_error = 0;
  for (int k = 0; k < folds; ++k) {
    std::vector<int64_t> rest;
    for (int j = 0; j < folds; ++j)
      if (j != k) rest.insert(rest.end(), parts[j]->indices().begin(), parts[j]->indices().end());
    tl::Tensor predicted = fit_and_predict(task, *table, std::make_shared<data::Subset>(table, rest), parts[k]);
    tl::Tensor y = all_examples(*parts[k]).y;
    if (task.regression) squared_error += (y - predicted).pow(2).sum().item<float>();
    else correct += tl::eq(predicted, y).sum().item<double>();
  }
  const tl::Tensor& y = table->targets();
  if (!task.regression) return correct / static_cast<double>(table->size());
  return 1.0 - squared_error / (y - y.mean()).pow(2).sum().item<float>();
}

int main() {
  // The README states no figure for wine; it is held to the iris/digits one (about 97%).
  const Task tasks[] = {
      {"wine.csv", "cultivar", false, "~97% (as iris, digits)", 0.93},
      {"breast_cancer.csv", "diagnosis", false, "~95%", 0.93},
      {"diabetes.csv", "progression", true, "R^2 ~0.5 (linear)", 0.40},
  };
  bool all_pass = true;
  std::printf("%-18s %-10s %-24s %s\n", "data set", "5-fold CV", "data/README.md", "result");
  for (const Task& task : tasks) {
    double score = cross_validate(task);
    bool pass = score >= task.minimum;
    all_pass = all_pass && pass;
    char figure[32];
    if (task.regression) std::snprintf(figure, sizeof figure, "R^2 %.3f", score);
    else std::snprintf(figure, sizeof figure, "%.1f%%", 100 * score);
    std::printf("%-18s %-10s %-24s %s (minimum %.2f)\n", task.file, figure, task.expected, pass ? "ok" : "MISSED",
                task.minimum);
  }
  return all_pass ? 0 : 1;
}
