// Shape: the sizes (or strides) of a tensor, stored inline. Rank is capped at kMaxRank so
// that shapes never allocate on the per-op hot path.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

#include "tl/error.h"

namespace tl {

inline constexpr int kMaxRank = 8;

class Shape {
 public:
  Shape() = default;
  // `site` is where the braced list was written: a rank above kMaxRank names that line.
  Shape(std::initializer_list<int64_t> dims, Site site = Site::here());
  explicit Shape(const std::vector<int64_t>& dims);
  template <class It> Shape(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<int64_t>(*first));
  }

  int64_t size() const { return rank_; }
  bool empty() const { return rank_ == 0; }
  int64_t& operator[](int64_t i) { return dims_[i]; }
  int64_t operator[](int64_t i) const { return dims_[i]; }
  int64_t back() const { return dims_[rank_ - 1]; }
  const int64_t* begin() const { return dims_.data(); }
  const int64_t* end() const { return dims_.data() + rank_; }
  int64_t* begin() { return dims_.data(); }
  int64_t* end() { return dims_.data() + rank_; }
  const int64_t* data() const { return dims_.data(); }

  void push_back(int64_t d);  // throws ShapeError past kMaxRank
  void pop_back() { --rank_; }
  void insert(int64_t pos, int64_t d);
  void erase(int64_t pos);
  void resize(int64_t rank, int64_t fill = 0);

  // Product of the sizes, overflow-checked (throws ShapeError on overflow or negative size).
  int64_t numel() const;
  std::vector<int64_t> vec() const { return std::vector<int64_t>(begin(), end()); }
  std::string str() const;  // "[2, 3]"

  bool operator==(const Shape& o) const {
    return rank_ == o.rank_ && std::equal(begin(), end(), o.begin());
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int32_t rank_ = 0;
};

// The dims a reduction reads: one dim (`x.sum(1)`, `tl::amax(x, -1)`; negative dims count
// from the end), a braced list (`x.sum({0, 2})`) or a Shape holding them. Empty: every dim.
class Dims {
 public:
  Dims() = default;
  template <std::integral I>
    requires(!std::is_same_v<I, bool>)
  Dims(I dim) {  // NOLINT: implicit on purpose
    dims_.push_back(static_cast<int64_t>(dim));
  }
  Dims(std::initializer_list<int64_t> dims, Site site = Site::here()) : dims_(dims, site) {}  // NOLINT
  Dims(const Shape& dims) : dims_(dims) {}                                                    // NOLINT
  explicit Dims(const std::vector<int64_t>& dims) : dims_(dims) {}
  const Shape& shape() const { return dims_; }
  operator const Shape&() const { return dims_; }  // NOLINT: a Dims is passed where a Shape is read

 private:
  Shape dims_;
};

// Row-major strides for `shape`.
Shape contiguous_strides(const Shape& shape);
// NumPy broadcasting of two shapes; returns false when they are incompatible.
bool broadcast_shapes(const Shape& a, const Shape& b, Shape& out);

}  // namespace tl
