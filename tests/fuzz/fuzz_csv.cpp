// Fuzzes CSV parsing (tl::data::parse_csv, frontend/data/csv_reader.cpp). The first byte
// picks the options (delimiter, missing-value policy, target column "y" and its kind,
// categorical column "c", a small field limit); the rest is the file's text.
// Oracle: the text is refused with a tl::Error, or the table is consistent: features
// float32 [N, F] with F names, targets [N] (class indices in [0, K)), categorical features
// holding indices in [0, categories), values within the field limit. Any other exception is
// a failure.
#include <cmath>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_util.h"
#include "tl/tl.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  tl::data::CsvOptions options;
  options.delimiter = (flags & 1) ? ';' : ',';
  options.missing = (flags & 2) ? tl::data::MissingPolicy::kNaN : tl::data::MissingPolicy::kError;
  if (flags & 4) options.target = "y";
  options.target_kind = (flags & 8) ? tl::data::TargetKind::kClasses : tl::data::TargetKind::kAuto;
  if (flags & 16) options.categorical = {"c"};
  if (flags & 32) options.max_field_bytes = 16;
  if (flags & 64) options.label_order = tl::data::LabelOrder::kFirstAppearance;
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::shared_ptr<tl::data::CsvDataset> table;
  try {
    table = tl::data::parse_csv(std::move(text), options, "fuzz.csv");
  } catch (const tl::Error&) {
    return 0;
  }
  const tl::Tensor& x = table->features();
  const int64_t n = table->size();
  const int64_t f = static_cast<int64_t>(table->feature_names().size());
  if (x.dtype() != tl::kFloat32 || x.shape() != tl::Shape{n, f}) tl::fuzz::fail("features are not float32 [N, F]");
  if (!options.target.empty()) {
    const tl::Tensor& y = table->targets();
    if (y.shape() != tl::Shape{n}) tl::fuzz::fail("targets are not [N]");
    if (table->has_class_labels()) {
      if (y.dtype() != tl::kInt64) tl::fuzz::fail("class targets are not int64");
      const int64_t* labels = static_cast<const int64_t*>(y.contiguous().data_ptr());
      for (int64_t i = 0; i < n; ++i) {
        if (labels[i] < 0 || labels[i] >= table->num_classes()) tl::fuzz::fail("class index out of range");
      }
      for (const auto& name : table->class_names()) {
        if (name.size() > options.max_field_bytes) tl::fuzz::fail("a class label exceeds the field limit");
      }
    } else if (y.dtype() != tl::kFloat32) {
      tl::fuzz::fail("a numeric target is not float32");
    }
  } else if (table->targets().defined()) {
    tl::fuzz::fail("targets defined without a target column");
  }
  const float* values = static_cast<const float*>(x.contiguous().data_ptr());
  for (int64_t j = 0; j < f; ++j) {
    const size_t categories = table->categories(table->feature_names()[j]).size();
    for (int64_t i = 0; i < n; ++i) {
      const float v = values[i * f + j];
      if (categories > 0 && !(v >= 0 && v < static_cast<float>(categories) && v == std::floor(v)))
        tl::fuzz::fail("a categorical value is not an index of its categories");
    }
  }
  return 0;
}
