// Datasets held in memory (tensors, CSV tables, subsets of either), random_split and the
// Standardizer.
#include <cmath>
#include <cstring>

#include "tl/data.h"
#include "tl/ops.h"

namespace tl::data {
namespace {

std::string at(const Site& site) { return " at " + site.str(); }

void check_index(int64_t index, int64_t size, const char* op) {
  if (index < 0 || index >= size)
    throw ValueError(std::string(op) + ": index " + std::to_string(index) + " is out of range for a dataset of " +
                     std::to_string(size) + " examples");
}

Tensor index_tensor(const std::vector<int64_t>& indices) {
  return from_vector(indices, {static_cast<int64_t>(indices.size())}, {.dtype = kInt64});
}

}  // namespace

Batch Dataset::get_batch(const std::vector<int64_t>& indices) const {
  Batch batch;
  const int64_t b = static_cast<int64_t>(indices.size());
  for (int64_t j = 0; j < b; ++j) {
    Example e = get(indices[static_cast<size_t>(j)]);
    if (j == 0) {
      Shape xs{b}, ys{b};
      for (int64_t d : e.x.shape()) xs.push_back(d);
      for (int64_t d : e.y.shape()) ys.push_back(d);
      batch.x = empty(xs, {.dtype = e.x.dtype()});
      batch.y = empty(ys, {.dtype = e.y.dtype()});
    }
    if (e.x.shape() != batch.x.select(0, j).shape() || e.y.shape() != batch.y.select(0, j).shape())
      throw ShapeError("tl::data::Dataset::get_batch: example " + std::to_string(indices[static_cast<size_t>(j)]) +
                       " has a different shape from the batch's first example; override get_batch or "
                       "make every example the same shape");
    batch.x.select(0, j).copy_(e.x);
    batch.y.select(0, j).copy_(e.y);
  }
  return batch;
}

// ---------- TensorDataset ----------

TensorDataset::TensorDataset(Tensor x, Tensor y, Site site) : x_(std::move(x)), y_(std::move(y)) {
  if (!x_.defined() || !y_.defined() || x_.dim() == 0 || y_.dim() == 0)
    throw ShapeError("tl::data::TensorDataset: x and y must be defined tensors with at least one dim" + at(site));
  if (x_.size(0) != y_.size(0))
    throw ShapeError("tl::data::TensorDataset: x has " + std::to_string(x_.size(0)) + " rows but y has " +
                     std::to_string(y_.size(0)) + " (dim 0 must match)" + at(site));
}

Example TensorDataset::get(int64_t index) const {
  check_index(index, size(), "tl::data::TensorDataset::get");
  return {x_.select(0, index), y_.select(0, index)};
}

Batch TensorDataset::get_batch(const std::vector<int64_t>& indices) const {
  Tensor idx = index_tensor(indices);
  return {index_select(x_, 0, idx), index_select(y_, 0, idx)};
}

// ---------- CsvDataset ----------

Example CsvDataset::get(int64_t index) const {
  check_index(index, size(), "tl::data::CsvDataset::get");
  return {features_.select(0, index), targets_.defined() ? targets_.select(0, index) : Tensor()};
}

Batch CsvDataset::get_batch(const std::vector<int64_t>& indices) const {
  Tensor idx = index_tensor(indices);
  return {index_select(features_, 0, idx), targets_.defined() ? index_select(targets_, 0, idx) : Tensor()};
}

int64_t CsvDataset::class_index(const std::string& label) const {
  for (size_t i = 0; i < class_names_.size(); ++i)
    if (class_names_[i] == label) return static_cast<int64_t>(i);
  throw ValueError("tl::data::CsvDataset::class_index: '" + label + "' is not a class of target '" + target_name_ +
                   "'");
}

std::vector<std::string> CsvDataset::categories(const std::string& column) const {
  for (size_t i = 0; i < feature_names_.size(); ++i)
    if (feature_names_[i] == column) return feature_categories_[i];
  throw ValueError("tl::data::CsvDataset::categories: '" + column + "' is not a feature column");
}

// ---------- Subset and random_split ----------

Subset::Subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices, Site site)
    : base_(std::move(base)), indices_(std::move(indices)) {
  if (!base_) throw ValueError("tl::data::Subset: the dataset is null" + at(site));
  const int64_t n = base_->size();
  for (int64_t i : indices_)
    if (i < 0 || i >= n)
      throw ValueError("tl::data::Subset: index " + std::to_string(i) + " is out of range for a dataset of " +
                       std::to_string(n) + " examples" + at(site));
}

Example Subset::get(int64_t index) const {
  check_index(index, size(), "tl::data::Subset::get");
  return base_->get(indices_[static_cast<size_t>(index)]);
}

Batch Subset::get_batch(const std::vector<int64_t>& indices) const {
  std::vector<int64_t> mapped(indices.size());
  for (size_t j = 0; j < indices.size(); ++j) {
    check_index(indices[j], size(), "tl::data::Subset::get_batch");
    mapped[j] = indices_[static_cast<size_t>(indices[j])];
  }
  return base_->get_batch(mapped);
}

std::vector<std::shared_ptr<Subset>> random_split(std::shared_ptr<const Dataset> dataset,
                                                  std::vector<int64_t> sizes, Site site) {
  if (!dataset) throw ValueError("tl::data::random_split: the dataset is null" + at(site));
  const int64_t n = dataset->size();
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) throw ValueError("tl::data::random_split: sizes must be >= 0, got " + std::to_string(s) + at(site));
    total += s;
  }
  if (total != n)
    throw ValueError("tl::data::random_split: sizes sum to " + std::to_string(total) + " but the dataset has " +
                     std::to_string(n) + " examples" + at(site));
  std::vector<int64_t> perm = randperm(n, site).to_vector<int64_t>();
  std::vector<std::shared_ptr<Subset>> out;
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(std::make_shared<Subset>(
        dataset, std::vector<int64_t>(perm.begin() + start, perm.begin() + start + s), site));
    start += s;
  }
  return out;
}

std::pair<std::shared_ptr<Subset>, std::shared_ptr<Subset>> random_split(std::shared_ptr<const Dataset> dataset,
                                                                         double fraction, Site site) {
  if (!dataset) throw ValueError("tl::data::random_split: the dataset is null" + at(site));
  if (!(fraction >= 0.0 && fraction <= 1.0))
    throw ValueError("tl::data::random_split: fraction must be in [0, 1], got " + std::to_string(fraction) +
                     at(site));
  const int64_t n = dataset->size();
  const int64_t first = static_cast<int64_t>(std::llround(fraction * static_cast<double>(n)));
  auto parts = random_split(dataset, {first, n - first}, site);
  return {parts[0], parts[1]};
}

// ---------- Standardizer ----------

Standardizer& Standardizer::fit(const Tensor& x, Site site) {
  if (!x.defined() || x.dim() != 2 || x.size(0) == 0)
    throw ValueError("tl::data::Standardizer::fit: expected x of shape [N, F] with N >= 1" + at(site));
  Tensor xf = x.detach().to(kFloat32).contiguous();
  const int64_t n = xf.size(0), f = xf.size(1);
  const float* p = xf.data<float>();
  // Two passes in double: one for the mean, one for the squared deviations (stable for
  // features with a large offset, where E[x^2] - E[x]^2 cancels).
  std::vector<double> mean(static_cast<size_t>(f), 0.0), var(static_cast<size_t>(f), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < f; ++k) mean[k] += p[i * f + k];
  for (double& m : mean) m /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < f; ++k) {
      double d = p[i * f + k] - mean[k];
      var[k] += d * d;
    }
  std::vector<float> m32(static_cast<size_t>(f)), s32(static_cast<size_t>(f));
  for (int64_t k = 0; k < f; ++k) {
    m32[k] = static_cast<float>(mean[k]);
    double s = std::sqrt(var[k] / static_cast<double>(n));
    s32[k] = s > 1e-12 ? static_cast<float>(s) : 1.0f;
  }
  mean_ = from_vector(m32, {f});
  std_ = from_vector(s32, {f});
  return *this;
}

Standardizer& Standardizer::fit(const Dataset& dataset, Site site) {
  const int64_t n = dataset.size();
  if (n == 0) throw ValueError("tl::data::Standardizer::fit: the dataset is empty" + at(site));
  std::vector<int64_t> all(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) all[static_cast<size_t>(i)] = i;
  Tensor x = dataset.get_batch(all).x;
  return fit(x.reshape({n, -1}), site);
}

Tensor Standardizer::transform(const Tensor& x, Site site) const {
  if (!is_fitted()) throw ValueError("tl::data::Standardizer::transform: call fit() first" + at(site));
  if (x.dim() == 0 || x.size(-1) != mean_.size(0))
    throw ShapeError("tl::data::Standardizer::transform: fitted on " + std::to_string(mean_.size(0)) +
                     " features, but x's last dim has " + (x.dim() ? std::to_string(x.size(-1)) : "none") +
                     at(site));
  return (x - mean_) / std_;
}

namespace {
class StandardizedDataset : public Dataset {
 public:
  StandardizedDataset(std::shared_ptr<const Dataset> base, Standardizer s) : base_(std::move(base)), s_(std::move(s)) {}
  int64_t size() const override { return base_->size(); }
  Example get(int64_t index) const override {
    Example e = base_->get(index);
    return {s_.transform(e.x), e.y};
  }
  Batch get_batch(const std::vector<int64_t>& indices) const override {
    Batch b = base_->get_batch(indices);
    return {s_.transform(b.x), b.y};
  }

 private:
  std::shared_ptr<const Dataset> base_;
  Standardizer s_;
};
}  // namespace

std::shared_ptr<Dataset> Standardizer::transform(std::shared_ptr<const Dataset> dataset, Site site) const {
  if (!is_fitted()) throw ValueError("tl::data::Standardizer::transform: call fit() first" + at(site));
  if (!dataset) throw ValueError("tl::data::Standardizer::transform: the dataset is null" + at(site));
  return std::make_shared<StandardizedDataset>(std::move(dataset), *this);
}

}  // namespace tl::data
