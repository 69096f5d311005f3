// Printing tensors in PyTorch's layout: nested brackets with right-aligned values, large
// tensors summarized with "...", then shape, dtype, device and autograd state.
#include <cmath>
#include <cstdio>
#include <ostream>
#include <sstream>

#include "runtime/ops/dispatch.h"
#include "tl/tensor.h"

namespace tl {

namespace {

// Tensors with more elements than this print only kEdgeItems at each end of every dim.
constexpr int64_t kSummarizeThreshold = 1000;
constexpr int64_t kEdgeItems = 3;
constexpr int64_t kLineWidth = 80;
constexpr int64_t kEllipsis = -1;  // marks the "..." position in a list of indices

enum class Kind { kBool, kInt, kFloat };

// The value at element offset `offset` from the first element of CPU tensor `t`, as double.
double value_at(const Tensor& t, int64_t offset) {
  double v = 0;
  TL_DISPATCH_ALL(t.dtype(), "print", {
    v = static_cast<double>(static_cast<ops::compute_t<T>>(static_cast<const T*>(t.data_ptr())[offset]));
  })
  return v;
}

// Indices of dim `size` that are printed, with kEllipsis where elements are skipped.
std::vector<int64_t> printed_indices(int64_t size, bool summarize) {
  std::vector<int64_t> picks;
  if (summarize && size > 2 * kEdgeItems) {
    for (int64_t i = 0; i < kEdgeItems; ++i) picks.push_back(i);
    picks.push_back(kEllipsis);
    for (int64_t i = size - kEdgeItems; i < size; ++i) picks.push_back(i);
  } else {
    for (int64_t i = 0; i < size; ++i) picks.push_back(i);
  }
  return picks;
}

// Turns values into equally wide strings: fixed with 4 decimals, or scientific when the
// magnitudes span more than 1000x or leave [1e-4, 1e8] (PyTorch's rule).
class Formatter {
 public:
  Formatter(Kind kind, const std::vector<double>& values) : kind_(kind) {
    if (kind_ == Kind::kFloat) {
      double lo = INFINITY, hi = 0;
      for (double v : values) {
        if (!std::isfinite(v) || v == 0) continue;
        lo = std::min(lo, std::abs(v));
        hi = std::max(hi, std::abs(v));
      }
      scientific_ = hi > 0 && (hi / lo > 1000.0 || hi > 1e8 || lo < 1e-4);
    }
    for (double v : values) width_ = std::max(width_, format(v).size());
  }

  std::string format(double v) const {
    char buf[64];
    switch (kind_) {
      case Kind::kBool: return v != 0 ? "True" : "False";
      case Kind::kInt: std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v)); return buf;
      case Kind::kFloat:
        if (std::isnan(v)) return "nan";
        if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
        std::snprintf(buf, sizeof buf, scientific_ ? "%.4e" : "%.4f", v);
        return buf;
    }
    return "";
  }
  std::string padded(double v) const {
    std::string s = format(v);
    return std::string(width_ - std::min(width_, s.size()), ' ') + s;
  }
  size_t width() const { return width_; }

 private:
  Kind kind_;
  bool scientific_ = false;
  size_t width_ = 1;
};

class Printer {
 public:
  Printer(const Tensor& t, bool summarize) : t_(t), summarize_(summarize) {}

  void collect(int64_t dim, int64_t offset, std::vector<double>& out) const {
    if (dim == t_.dim()) {
      out.push_back(value_at(t_, offset));
      return;
    }
    for (int64_t i : printed_indices(t_.shape()[dim], summarize_))
      if (i != kEllipsis) collect(dim + 1, offset + i * t_.strides()[dim], out);
  }

  // Writes dims [dim, rank) starting at element `offset`; `indent` is the column of '['.
  void write(std::ostream& os, const Formatter& f, int64_t dim, int64_t offset, int64_t indent) const {
    int64_t rank = t_.dim();
    if (dim == rank) {
      os << f.format(value_at(t_, offset));
      return;
    }
    std::vector<int64_t> picks = printed_indices(t_.shape()[dim], summarize_);
    os << '[';
    if (dim == rank - 1) {
      int64_t per_line = std::max<int64_t>(1, (kLineWidth - indent) / static_cast<int64_t>(f.width() + 2));
      for (size_t k = 0; k < picks.size(); ++k) {
        if (k > 0) os << (static_cast<int64_t>(k) % per_line == 0 ? ",\n" + std::string(indent + 1, ' ') : ", ");
        if (picks[k] == kEllipsis) os << std::string(f.width() > 3 ? f.width() - 3 : 0, ' ') << "...";
        else os << f.padded(value_at(t_, offset + picks[k] * t_.strides()[dim]));
      }
    } else {
      std::string separator = "," + std::string(rank - dim - 1, '\n') + std::string(indent + 1, ' ');
      for (size_t k = 0; k < picks.size(); ++k) {
        if (k > 0) os << separator;
        if (picks[k] == kEllipsis) os << "...";
        else write(os, f, dim + 1, offset + picks[k] * t_.strides()[dim], indent + 1);
      }
    }
    os << ']';
  }

 private:
  const Tensor& t_;
  bool summarize_;
};

}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  Tensor host;
  {
    NoGradGuard no_grad;
    host = t.device() == kCPU ? t.detach() : t.detach().to(kCPU);
  }
  Kind kind = t.dtype() == kBool ? Kind::kBool : (is_floating(t.dtype()) ? Kind::kFloat : Kind::kInt);
  Printer printer(host, host.numel() > kSummarizeThreshold);
  std::vector<double> values;
  printer.collect(0, 0, values);
  Formatter formatter(kind, values);

  std::ostringstream body;
  constexpr int64_t kPrefix = 7;  // strlen("tensor(")
  body << "tensor(";
  printer.write(body, formatter, 0, 0, kPrefix);
  body << ", shape=" << t.shape().str() << ", dtype=" << dtype_name(t.dtype()) << ", device=" << t.device().str();
  if (!t.grad_fn_name().empty()) body << ", grad_fn=<" << t.grad_fn_name() << ">";
  else if (t.requires_grad()) body << ", requires_grad=True";
  if (!t.name().empty()) body << ", name='" << t.name() << "'";
  body << ")";
  return os << body.str();
}

std::string to_string(const Tensor& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}

}  // namespace tl
