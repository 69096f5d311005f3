// Vocabulary types shared by every layer: Site, errors, dtypes, devices, shapes.
#include <cstring>
#include <sstream>

#include "tl/device.h"
#include "tl/dtype.h"
#include "tl/error.h"
#include "tl/shape.h"

namespace tl {

std::string Site::str() const {
  const char* base = std::strrchr(file, '/');
  return std::string(base ? base + 1 : file) + ":" + std::to_string(line);
}

namespace detail {
void assert_fail(const char* cond, const char* file, int line, const std::string& msg) {
  throw Error(std::string("internal error in Tracelight (please report it): ") + msg + " [" +
              cond + " failed at " + file + ":" + std::to_string(line) + "]");
}
}  // namespace detail

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case kFloat32: return 4;
    case kFloat64: return 8;
    case kFloat16: return 2;
    case kBFloat16: return 2;
    case kInt32: return 4;
    case kInt64: return 8;
    case kBool: return 1;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case kFloat32: return "float32";
    case kFloat64: return "float64";
    case kFloat16: return "float16";
    case kBFloat16: return "bfloat16";
    case kInt32: return "int32";
    case kInt64: return "int64";
    case kBool: return "bool";
  }
  return "?";
}

bool is_floating(DType dtype) {
  return dtype == kFloat32 || dtype == kFloat64 || dtype == kFloat16 || dtype == kBFloat16;
}

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  auto rank = [](DType d) {
    switch (d) {
      case kBool: return 0;
      case kInt32: return 1;
      case kInt64: return 2;
      case kFloat16: return 3;
      case kBFloat16: return 3;
      case kFloat32: return 4;
      case kFloat64: return 5;
    }
    return 0;
  };
  if ((a == kFloat16 && b == kBFloat16) || (a == kBFloat16 && b == kFloat16)) return kFloat32;
  return rank(a) >= rank(b) ? a : b;
}

uint16_t Half::from_float(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t exp = (x >> 23) & 0xffu;
  uint32_t mant = x & 0x7fffffu;
  if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0u));
  int32_t e = static_cast<int32_t>(exp) - 127 + 15;
  if (e >= 0x1f) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);  // underflow -> signed zero
    mant |= 0x800000u;
    uint32_t shift = static_cast<uint32_t>(14 - e);
    uint32_t half_mant = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1u);
    uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half_mant & 1u))) ++half_mant;
    return static_cast<uint16_t>(sign | half_mant);
  }
  uint32_t h = sign | (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // round to nearest even
  return static_cast<uint16_t>(h);
}

float Half::to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t x;
  if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      x = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 0x1f) {
    x = sign | 0x7f800000u | (mant << 13);
  } else {
    x = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

std::string Device::str() const {
  if (type == DeviceType::kCPU) return "cpu";
  return "cuda:" + std::to_string(index);
}

Shape::Shape(std::initializer_list<int64_t> dims, Site site) {
  if (dims.size() > static_cast<size_t>(kMaxRank)) {
    throw ShapeError("tl: tensors have at most " + std::to_string(kMaxRank) + " dimensions; got a shape of rank " +
                     std::to_string(dims.size()) + " at " + site.str());
  }
  for (int64_t d : dims) push_back(d);
}
Shape::Shape(const std::vector<int64_t>& dims) {
  for (int64_t d : dims) push_back(d);
}

void Shape::push_back(int64_t d) {
  if (rank_ >= kMaxRank) {
    throw ShapeError("tl: tensors have at most " + std::to_string(kMaxRank) +
                     " dimensions; got a shape of rank " + std::to_string(rank_ + 1));
  }
  dims_[rank_++] = d;
}

void Shape::insert(int64_t pos, int64_t d) {
  push_back(0);
  for (int64_t i = rank_ - 1; i > pos; --i) dims_[i] = dims_[i - 1];
  dims_[pos] = d;
}

void Shape::erase(int64_t pos) {
  for (int64_t i = pos; i + 1 < rank_; ++i) dims_[i] = dims_[i + 1];
  --rank_;
}

void Shape::resize(int64_t rank, int64_t fill) {
  if (rank > kMaxRank) push_back(0);  // throws with the standard message
  for (int64_t i = rank_; i < rank; ++i) dims_[i] = fill;
  rank_ = static_cast<int32_t>(rank);
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int64_t d : *this) {
    if (d < 0) throw ShapeError("tl: negative dimension in shape " + str());
    if (__builtin_mul_overflow(n, d, &n)) {
      throw ShapeError("tl: the number of elements of shape " + str() + " overflows int64");
    }
  }
  return n;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int64_t i = 0; i < rank_; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[i]);
  }
  return s + "]";
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides;
  strides.resize(shape.size());
  int64_t s = 1;
  for (int64_t i = shape.size() - 1; i >= 0; --i) {
    strides[i] = s;
    s *= shape[i] > 0 ? shape[i] : 1;
  }
  return strides;
}

bool broadcast_shapes(const Shape& a, const Shape& b, Shape& out) {
  int64_t rank = std::max(a.size(), b.size());
  out.resize(rank);
  for (int64_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) return false;
    out[i] = da == 1 ? db : da;
  }
  return true;
}

}  // namespace tl
