// Data for training: datasets (in-memory tensors, CSV files, your own subclasses), splits,
// feature standardization, and a DataLoader that batches, shuffles reproducibly, prefetches
// on background threads and can be checkpointed mid-epoch. See docs/data.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tl/error.h"
#include "tl/random.h"
#include "tl/stateful.h"
#include "tl/tensor.h"

namespace tl::data {

// One sample: features `x` and target `y` (either may be any shape; a 0-d `y` is usual).
struct Example {
  Tensor x;
  Tensor y;
};

// A batch: `x` is [B, ...] and `y` is [B, ...], stacked along a new leading dim.
// An aggregate, so `for (auto [x, y] : loader)` works.
struct Batch {
  Tensor x;
  Tensor y;
};

// A map-style dataset. Subclass it for your own data: implement size() and get(i); override
// get_batch() when you can gather many rows faster than one at a time. With a DataLoader
// that has num_workers > 0, get() and get_batch() are called from background threads, so they
// must be safe to call concurrently (reading immutable data is).
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // The example at `index` in [0, size()).
  virtual Example get(int64_t index) const = 0;
  // The examples at `indices`, stacked. The default calls get() per index and copies each
  // into a new [B, ...] tensor; all examples must share x's shape and dtype (and y's).
  virtual Batch get_batch(const std::vector<int64_t>& indices) const;
};

// Rows of two tensors: example i is (x[i], y[i]). Both must have the same size in dim 0.
// Holds the tensors without copying; get_batch gathers with index_select.
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor x, Tensor y, Site site = Site::here());
  int64_t size() const override { return x_.size(0); }
  Example get(int64_t index) const override;
  Batch get_batch(const std::vector<int64_t>& indices) const override;
  const Tensor& x() const { return x_; }
  const Tensor& y() const { return y_; }

 private:
  Tensor x_, y_;
};

// The examples of `base` at `indices` (in that order); shares `base`, copies nothing.
class Subset : public Dataset {
 public:
  Subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices, Site site = Site::here());
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Example get(int64_t index) const override;
  Batch get_batch(const std::vector<int64_t>& indices) const override;
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> indices_;
};

// Splits `dataset` into disjoint random subsets of the given `sizes`, which must sum to
// dataset->size(). The permutation comes from tl::randperm, so tl::manual_seed fixes it.
// Throws ValueError on negative sizes or a wrong sum.
std::vector<std::shared_ptr<Subset>> random_split(std::shared_ptr<const Dataset> dataset,
                                                  std::vector<int64_t> sizes, Site site = Site::here());
// Two subsets: the first holds round(fraction * size()) examples, the second the rest.
// `fraction` must be in [0, 1].
std::pair<std::shared_ptr<Subset>, std::shared_ptr<Subset>> random_split(
    std::shared_ptr<const Dataset> dataset, double fraction, Site site = Site::here());

// ---------- CSV ----------

// What an empty cell (or one holding only spaces) in a numeric column means.
enum class MissingPolicy {
  kError,  // throw IoError naming the cell (the default)
  kNaN,    // store NaN; impute or drop it yourself
};

// How the target column is read.
enum class TargetKind {
  kAuto,     // class labels if any value is not a number, else a float32 regression target
  kClasses,  // always class labels, even when they are written as numbers (digits 0..9)
  kNumber,   // always float32; a non-number is an error
};

// The order in which class labels get their indices 0..K-1.
enum class LabelOrder {
  kSorted,           // numeric order when every label is a number, else byte order (default):
                     // the mapping does not depend on row order, so a shuffled file agrees
  kFirstAppearance,  // the order labels first occur in the file (like pandas.factorize)
};

struct CsvOptions {
  // The target column's header name; empty: no target (targets() is an empty tensor).
  std::string target = {};
  // Feature columns to keep, in this order; empty: every column except the target, in file
  // order. Naming a column that is not in the header is an error.
  std::vector<std::string> columns = {};
  char delimiter = ',';
  // A field longer than this (after unquoting) is an error: this bounds memory per field.
  size_t max_field_bytes = size_t{1} << 20;
  // A header with more columns than this is an error: the per-column bookkeeping (names,
  // roles, about 200 bytes a column) stays bounded. Data rows are checked against the
  // header's count as they are split, so a runaway row costs no memory.
  size_t max_columns = 1'000'000;
  MissingPolicy missing = MissingPolicy::kError;
  TargetKind target_kind = TargetKind::kAuto;
  LabelOrder label_order = LabelOrder::kSorted;
  // Feature columns holding strings, encoded as float category indices 0..K-1 (ordered by
  // `label_order`); their categories are in CsvDataset::categories().
  std::vector<std::string> categorical = {};
};

// A parsed CSV file held in memory: features float32 [N, F], targets int64 [N] (class labels)
// or float32 [N] (numeric target), or undefined when no target was named.
class CsvDataset : public Dataset {
 public:
  int64_t size() const override { return features_.size(0); }
  Example get(int64_t index) const override;
  Batch get_batch(const std::vector<int64_t>& indices) const override;

  const Tensor& features() const { return features_; }
  const Tensor& targets() const { return targets_; }
  const std::vector<std::string>& feature_names() const { return feature_names_; }
  const std::string& target_name() const { return target_name_; }
  bool has_class_labels() const { return !class_names_.empty(); }
  // Class index -> label as written in the file. Empty for a numeric target.
  const std::vector<std::string>& class_names() const { return class_names_; }
  int64_t num_classes() const { return static_cast<int64_t>(class_names_.size()); }
  // The index of `label`; throws ValueError when it is not one of the classes.
  int64_t class_index(const std::string& label) const;
  // Category names of a categorical feature column (empty for a numeric one).
  std::vector<std::string> categories(const std::string& column) const;

 private:
  friend struct CsvBuilder;
  Tensor features_, targets_;
  std::vector<std::string> feature_names_, class_names_;
  std::vector<std::vector<std::string>> feature_categories_;  // per feature; empty if numeric
  std::string target_name_;
};

// Reads a CSV file with a header row (RFC 4180: quoted fields with doubled quotes and line
// breaks inside; LF, CRLF or lone CR line ends; an optional UTF-8 BOM; no final newline
// needed; blank lines are skipped). Every feature column must be numeric unless listed in
// `options.categorical`. Throws IoError naming the file, line (1-based) and, where it
// applies, column or byte offset, what was expected and what was found: for an unreadable,
// empty or header-only file; a row with the wrong number of fields; a non-number, an empty
// cell (unless MissingPolicy::kNaN) or a value that overflows float32; an unterminated quote
// (naming the line it opened on); invalid UTF-8 or a NUL byte; a field longer than
// `options.max_field_bytes`; a header over `options.max_columns`; a folder, FIFO or device
// instead of a file; a file larger than this machine's memory or an allocation that fails
// (naming the path and the bytes). Reads the whole file into memory, then parses it in one
// pass; peak memory is about the file size plus the float32 table.
std::shared_ptr<CsvDataset> read_csv(const std::string& path, const CsvOptions& options = {},
                                     Site site = Site::here());
// The same for CSV text already in memory; messages name the file `name`.
std::shared_ptr<CsvDataset> parse_csv(std::string text, const CsvOptions& options = {},
                                      const std::string& name = "<memory>", Site site = Site::here());

// ---------- preprocessing ----------

// Per-feature standardization x' = (x - mean) / std, with mean and (population) std fitted
// on one dataset (the training split: fitting on all data leaks the test set) and applied to
// any. A feature with zero spread keeps std = 1, so it maps to 0 instead of NaN.
class Standardizer {
 public:
  Standardizer() = default;
  // Fits on `x` [N, F] (any floating dtype) or on every example of `dataset` (x of shape [F]).
  // Throws ValueError on an empty input.
  Standardizer& fit(const Tensor& x, Site site = Site::here());
  Standardizer& fit(const Dataset& dataset, Site site = Site::here());
  bool is_fitted() const { return mean_.defined(); }
  const Tensor& mean() const { return mean_; }  // float32 [F]
  const Tensor& std() const { return std_; }    // float32 [F]
  // (x - mean) / std for x [..., F]; throws ValueError before fit and ShapeError when F differs.
  Tensor transform(const Tensor& x, Site site = Site::here()) const;
  Tensor operator()(const Tensor& x, Site site = Site::here()) const { return transform(x, site); }
  // A view of `dataset` whose x is standardized on the fly (targets unchanged).
  std::shared_ptr<Dataset> transform(std::shared_ptr<const Dataset> dataset, Site site = Site::here()) const;

 private:
  Tensor mean_, std_;
};

// ---------- loading ----------

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  // Drop the last batch of an epoch when it is smaller than batch_size.
  bool drop_last = false;
  // Background threads that prepare upcoming batches; 0 prepares each batch on demand. The
  // batches and their order do not depend on this.
  int num_workers = 0;
  // Shuffle seed; unset: drawn from tl::default_generator() at construction (so
  // tl::manual_seed fixes it).
  std::optional<uint64_t> seed = {};
  // The key this loader's state is saved under in a checkpoint.
  std::string name = "data_loader";
  // Where batches are delivered: with workers, each batch is copied to the device by the
  // worker that prepared it, so the copy overlaps the training step of the batch before.
  Device device = kCPU;
  // Whether batches are put in pinned (page-locked) host memory; unset: when `device` is CUDA.
  // Pinned batches go to a CUDA device with to(device, non_blocking = true): the copy is
  // queued on the current stream (of the thread that prepares the batch) and nothing waits for
  // it, so the GPU keeps working through the step before; ops on the delivered batch are
  // ordered after the copy. false copies from pageable memory, which waits for the device.
  // true with the CPU device delivers pinned CPU batches (as PyTorch's pin_memory=True), for
  // your own non_blocking copies. Pinning copies each collated batch once more on the host,
  // into blocks the pinned allocator reuses. Needs a CUDA device: DeviceError otherwise.
  std::optional<bool> pin_memory = {};
};

// Iterates over a dataset in batches, one epoch per range-for loop:
//
//   tl::data::DataLoader loader(train, {.batch_size = 32, .shuffle = true});
//   for (int epoch = 0; epoch < 10; ++epoch)
//     for (auto [x, y] : loader) { ... }
//
// Epoch e's order is a Philox permutation that depends only on (seed, e). The loader keeps
// its place: leaving a loop early and starting a new one continues the same epoch, and a
// loader restored with load_state() yields exactly the batches the saved one had not yet
// handed out. One iteration at a time: starting a new loop ends the previous one.
class DataLoader : public Stateful {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {},
             Site site = Site::here());
  ~DataLoader() override;
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  class Iterator {
   public:
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    const Batch& operator*() const { return batch_; }
    const Batch* operator->() const { return &batch_; }
    Iterator& operator++();
    bool operator==(const Iterator& other) const { return loader_ == other.loader_; }

   private:
    friend class DataLoader;
    DataLoader* loader_ = nullptr;  // null: the end
    Batch batch_;
  };
  // Starts (or continues) the current epoch.
  Iterator begin();
  Iterator end() { return Iterator{}; }

  // Batches per epoch.
  int64_t num_batches() const;
  int64_t size() const { return num_batches(); }
  // The epoch being iterated (or the next one to start), counting from 0.
  int64_t epoch() const { return epoch_; }
  // Batches of the current epoch already handed out.
  int64_t position() const { return position_; }
  // Jumps to the start of `epoch`.
  void set_epoch(int64_t epoch);
  uint64_t seed() const { return seed_; }
  // The dataset indices of epoch `epoch`, in the order this loader visits them.
  std::vector<int64_t> epoch_order(int64_t epoch) const;

  std::string state_key() const override { return options_.name; }
  // {"epoch", "position", "generator": {"seed", "offset"}, plus dataset size, batch size,
  // shuffle and drop_last, which load_state checks}.
  std::string save_state() const override;
  void load_state(const std::string& json) override;

 private:
  struct Prefetcher;
  Batch make_batch(const std::vector<int64_t>& order, int64_t batch_index) const;
  Batch next_batch();
  void stop_prefetch();

  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  uint64_t seed_ = 0;
  int64_t epoch_ = 0;
  int64_t position_ = 0;
  std::vector<int64_t> order_;  // the current epoch's indices; empty until begin()
  int64_t order_epoch_ = -1;
  std::unique_ptr<Prefetcher> prefetcher_;
};

}  // namespace tl::data
