// tl::einsum: Einstein summation as a composite of registered ops (index_select for
// diagonals, sum, permute, reshape/expand, matmul), so autograd and tl::compile need nothing
// of their own. The equation is parsed into integer labels, operands are contracted left to
// right, each pair as one batched matmul.
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "frontend/ops/pointwise/pointwise.h"
#include "tl/ops.h"

namespace tl {
namespace {

// Labels: 'A'..'Z' are 0..25 and 'a'..'z' are 26..51 (ASCII order, which is also the order of
// the implicit output), and the k-th dim covered by "..." (counted from the left of the widest
// ellipsis) is kEllipsisLabel + k.
constexpr int kLetterCount = 52;
constexpr int kEllipsisLabel = kLetterCount;

bool is_letter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
int letter_label(char c) { return c <= 'Z' ? c - 'A' : 26 + (c - 'a'); }

std::string label_name(int label) {
  if (label >= kEllipsisLabel) return "dim " + std::to_string(label - kEllipsisLabel) + " of '...'";
  char c = static_cast<char>(label < 26 ? 'A' + label : 'a' + (label - 26));
  return std::string("'") + c + "'";
}

// One side of the equation as written: its letters in order, and where "..." stands (the
// number of letters before it), or -1.
struct Term {
  std::vector<int> letters;
  int ellipsis_at = -1;
};

struct Parsed {
  std::vector<Term> inputs;
  Term output;
  bool is_explicit = false;
};

// The first line of every message: "tl::einsum("ij,jk->ik"): ".
std::string prefix(const std::string& equation) { return "tl::einsum(\"" + equation + "\"): "; }

// Reads one term, `text`, which starts at `offset` in `equation` (for messages).
Term parse_term(const std::string& text, size_t offset, const std::string& what, const std::string& equation,
                Site site) {
  Term term;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (is_letter(c)) {
      term.letters.push_back(letter_label(c));
    } else if (c == '.') {
      if (text.compare(i, 3, "...") != 0) {
        throw ValueError(prefix(equation) + "'.' at position " + std::to_string(offset + i) + " in " + what +
                         " is not part of an ellipsis \"...\" at " + site.str());
      }
      if (term.ellipsis_at >= 0) {
        throw ValueError(prefix(equation) + what + " has more than one ellipsis \"...\" (one may stand for any "
                         "number of dims) at " + site.str());
      }
      term.ellipsis_at = static_cast<int>(term.letters.size());
      i += 2;
    } else {
      throw ValueError(prefix(equation) + "invalid character '" + std::string(1, c) + "' at position " +
                       std::to_string(offset + i) + " in " + what +
                       " (subscripts are letters a-z and A-Z, \"...\", ',' and \"->\") at " + site.str());
    }
  }
  return term;
}

Parsed parse(const std::string& equation, size_t operand_count, Site site) {
  // Spaces are allowed anywhere, as in NumPy; positions in messages count them too.
  std::string text;
  std::vector<size_t> position;
  for (size_t i = 0; i < equation.size(); ++i) {
    if (equation[i] == ' ') continue;
    text.push_back(equation[i]);
    position.push_back(i);
  }
  Parsed p;
  const size_t arrow = text.find("->");
  if (arrow != std::string::npos && text.find("->", arrow + 2) != std::string::npos) {
    throw ValueError(prefix(equation) + "more than one \"->\" at " + site.str());
  }
  p.is_explicit = arrow != std::string::npos;
  const std::string lhs = p.is_explicit ? text.substr(0, arrow) : text;
  size_t start = 0;
  for (size_t k = 0;; ++k) {
    const size_t comma = lhs.find(',', start);
    const std::string piece = lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const size_t offset = start < position.size() ? position[start] : equation.size();
    p.inputs.push_back(parse_term(piece, offset, "operand " + std::to_string(k) + "'s subscripts", equation, site));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (p.inputs.size() != operand_count) {
    throw ValueError(prefix(equation) + "the equation has subscripts for " + std::to_string(p.inputs.size()) +
                     " operand(s) but " + std::to_string(operand_count) + " tensor(s) were given at " + site.str());
  }
  if (p.is_explicit) {
    const size_t offset = arrow + 2 < position.size() ? position[arrow + 2] : equation.size();
    p.output = parse_term(text.substr(arrow + 2), offset, "the output", equation, site);
  }
  return p;
}

// A tensor with one label per dim. Labels are distinct once diagonals have been taken.
struct Labeled {
  Tensor t;
  std::vector<int> labels;
};

int64_t index_of(const std::vector<int>& labels, int label) {
  auto it = std::find(labels.begin(), labels.end(), label);
  return it == labels.end() ? -1 : it - labels.begin();
}

bool contains(const std::vector<int>& labels, int label) { return index_of(labels, label) >= 0; }

// The diagonal over dims `p` < `q` (same size n): x[..., i, ..., i, ...] keeps one dim, at p.
// Both dims move last and merge, and index_select picks the n entries i * (n + 1); unlike a
// mask multiply this leaves inf and NaN off the diagonal out of the result.
Tensor take_diagonal(const Tensor& x, int64_t p, int64_t q, Site site) {
  const int64_t n = x.shape()[p];
  std::vector<int64_t> order;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != p && d != q) order.push_back(d);
  order.push_back(p);
  order.push_back(q);
  Tensor moved = x.permute(Shape(order), site);
  Shape merged;
  for (int64_t d = 0; d + 2 < moved.dim(); ++d) merged.push_back(moved.shape()[d]);
  merged.push_back(n * n);
  Tensor flat = moved.reshape(merged, site);
  Tensor index = arange(0, static_cast<double>(n * n), static_cast<double>(n + 1), {.dtype = kInt64}, site);
  Tensor diagonal = index_select(flat, -1, index, site);  // [..., n], the kept dim last
  // Put the kept dim back at p: dims before p keep their place, the ones after shift by one.
  const int64_t rank = diagonal.dim();
  std::vector<int64_t> back;
  for (int64_t d = 0; d < rank; ++d) back.push_back(d < p ? d : (d == p ? rank - 1 : d - 1));
  return diagonal.permute(Shape(back), site);
}

// Sums `x` over the labels not in `keep`.
Labeled sum_except(const Labeled& x, const std::vector<int>& keep, Site site) {
  std::vector<int64_t> dims;
  Labeled out;
  for (size_t d = 0; d < x.labels.size(); ++d) {
    if (contains(keep, x.labels[d])) {
      out.labels.push_back(x.labels[d]);
    } else {
      dims.push_back(static_cast<int64_t>(d));
    }
  }
  // An empty dim list would mean "every dim" to sum.
  out.t = dims.empty() ? x.t : sum(x.t, Dims(dims), false, site);
  return out;
}

// The sizes the contraction of `a` and `b` needs for `labels`: where one operand has 1 and the
// other n (broadcasting), n.
int64_t label_size(const Labeled& a, const Labeled& b, int label) {
  const int64_t i = index_of(a.labels, label), j = index_of(b.labels, label);
  const int64_t sa = i >= 0 ? a.t.shape()[i] : 1, sb = j >= 0 ? b.t.shape()[j] : 1;
  return sa == 1 ? sb : sa;
}

// Lays `x` out as [batch, rows, cols] (each group merged into one dim), broadcasting size-1
// dims of batch and contracted labels up to `sizes`.
Tensor as_matrix_batch(const Labeled& x, const std::vector<int>& batch, const std::vector<int>& rows,
                       const std::vector<int>& cols, const std::array<int64_t, 128>& sizes, Site site) {
  std::vector<int64_t> order;
  Shape expanded;
  int64_t nb = 1, nr = 1, nc = 1;
  for (const auto* group : {&batch, &rows, &cols}) {
    for (int label : *group) {
      order.push_back(index_of(x.labels, label));
      expanded.push_back(sizes[label]);
    }
  }
  for (int label : batch) nb *= sizes[label];
  for (int label : rows) nr *= sizes[label];
  for (int label : cols) nc *= sizes[label];
  Tensor t = x.t.permute(Shape(order), site);
  if (t.shape() != expanded) t = t.expand(expanded, site);
  return t.reshape({nb, nr, nc}, site);
}

// Contracts `a` with `b`, keeping the labels in `needed` (the output's and those of the
// operands still to come). Labels in both operands that are not needed are the matmul's inner
// dim; needed ones shared by both are its batch; the rest are its rows (a) and columns (b).
Labeled contract(Labeled a, Labeled b, const std::vector<int>& needed, Site site) {
  // A label only one operand has and nobody needs is summed before the product.
  std::vector<int> keep_a = needed, keep_b = needed;
  keep_a.insert(keep_a.end(), b.labels.begin(), b.labels.end());
  keep_b.insert(keep_b.end(), a.labels.begin(), a.labels.end());
  a = sum_except(a, keep_a, site);
  b = sum_except(b, keep_b, site);

  std::vector<int> batch, inner, rows, cols;
  for (int label : a.labels) {
    if (!contains(b.labels, label)) {
      rows.push_back(label);
    } else if (contains(needed, label)) {
      batch.push_back(label);
    } else {
      inner.push_back(label);
    }
  }
  for (int label : b.labels)
    if (!contains(a.labels, label)) cols.push_back(label);

  std::array<int64_t, 128> sizes{};
  for (int label : a.labels) sizes[label] = label_size(a, b, label);
  for (int label : b.labels) sizes[label] = label_size(a, b, label);
  // a: [batch, rows, inner], b: [batch, inner, cols]; the product is [batch, rows, cols].
  Tensor product = matmul(as_matrix_batch(a, batch, rows, inner, sizes, site),
                          as_matrix_batch(b, batch, inner, cols, sizes, site), site);
  Labeled out;
  Shape shape;
  for (const auto* group : {&batch, &rows, &cols}) {
    for (int label : *group) {
      out.labels.push_back(label);
      shape.push_back(sizes[label]);
    }
  }
  out.t = product.reshape(shape, site);
  return out;
}

}  // namespace

Tensor einsum(const std::string& equation, const std::vector<Tensor>& operands, Site site) {
  const Parsed p = parse(equation, operands.size(), site);
  if (operands.empty()) {
    throw ValueError(prefix(equation) + "needs at least one operand at " + site.str());
  }
  for (size_t k = 0; k < operands.size(); ++k) {
    const std::string what = "operand " + std::to_string(k);
    ops::require_defined(operands[k], "einsum", what.c_str(), site);
    ops::require_floating(operands[k], "einsum", what.c_str(), site);
  }

  // How many dims "..." stands for in each operand; the widest sets the output's.
  std::vector<int64_t> ellipsis_dims(operands.size(), 0);
  int64_t ellipsis_width = 0;
  for (size_t k = 0; k < operands.size(); ++k) {
    const Term& term = p.inputs[k];
    const int64_t rank = operands[k].dim(), named = static_cast<int64_t>(term.letters.size());
    if (term.ellipsis_at < 0 ? rank != named : rank < named) {
      throw ShapeError(prefix(equation) + "operand " + std::to_string(k) + " has " + std::to_string(rank) +
                       " dims (shape " + operands[k].shape().str() + ") but its subscripts name " +
                       std::to_string(named) + (term.ellipsis_at < 0 ? "" : " plus \"...\"") + " at " + site.str());
    }
    ellipsis_dims[k] = rank - named;
    ellipsis_width = std::max(ellipsis_width, ellipsis_dims[k]);
  }

  // Every operand's labels, dim by dim; "..." covers the rightmost ellipsis labels, so narrower
  // ellipses broadcast against wider ones as in NumPy.
  std::vector<Labeled> terms(operands.size());
  std::array<int, 128> counts{};
  bool has_ellipsis = false;
  for (size_t k = 0; k < operands.size(); ++k) {
    const Term& term = p.inputs[k];
    std::vector<int>& labels = terms[k].labels;
    for (size_t i = 0; i <= term.letters.size(); ++i) {
      if (static_cast<int>(i) == term.ellipsis_at) {
        has_ellipsis = true;
        for (int64_t e = ellipsis_width - ellipsis_dims[k]; e < ellipsis_width; ++e)
          labels.push_back(kEllipsisLabel + static_cast<int>(e));
      }
      if (i < term.letters.size()) labels.push_back(term.letters[i]);
    }
    for (int label : labels) ++counts[label];
    terms[k].t = operands[k];
  }

  // The output's labels: as written, or (implicit) "..." then the letters used exactly once, in
  // ASCII order. Without "..." in an explicit output, the ellipsis dims are summed, as in PyTorch.
  std::vector<int> output;
  if (p.is_explicit) {
    for (size_t i = 0; i <= p.output.letters.size(); ++i) {
      if (static_cast<int>(i) == p.output.ellipsis_at) {
        for (int64_t e = 0; e < ellipsis_width; ++e) output.push_back(kEllipsisLabel + static_cast<int>(e));
      }
      if (i == p.output.letters.size()) break;
      const int label = p.output.letters[i];
      if (counts[label] == 0) {
        throw ValueError(prefix(equation) + "output subscript " + label_name(label) +
                         " does not appear in any operand's subscripts at " + site.str());
      }
      if (contains(output, label)) {
        throw ValueError(prefix(equation) + "output subscript " + label_name(label) + " appears more than once at " +
                         site.str());
      }
      output.push_back(label);
    }
    if (p.output.ellipsis_at >= 0 && !has_ellipsis) {
      throw ValueError(prefix(equation) + "the output has \"...\" but no operand does at " + site.str());
    }
  } else {
    for (int64_t e = 0; e < ellipsis_width; ++e) output.push_back(kEllipsisLabel + static_cast<int>(e));
    for (int label = 0; label < kLetterCount; ++label)
      if (counts[label] == 1) output.push_back(label);
  }

  // One size per label across all operands; 1 broadcasts against any size.
  std::array<int64_t, 128> sizes;
  sizes.fill(-1);
  std::array<int, 128> size_from{};
  for (size_t k = 0; k < terms.size(); ++k) {
    for (size_t d = 0; d < terms[k].labels.size(); ++d) {
      const int label = terms[k].labels[d];
      const int64_t n = operands[k].shape()[static_cast<int64_t>(d)];
      const bool repeated_here = index_of(terms[k].labels, label) != static_cast<int64_t>(d);
      if (repeated_here && n != operands[k].shape()[index_of(terms[k].labels, label)]) {
        throw ShapeError(prefix(equation) + "subscript " + label_name(label) + " is repeated in operand " +
                         std::to_string(k) + " (shape " + operands[k].shape().str() +
                         ") for dims of different sizes; a diagonal needs equal sizes, at " + site.str());
      }
      if (sizes[label] < 0 || sizes[label] == 1) {
        sizes[label] = n;
        size_from[label] = static_cast<int>(k);
      } else if (n != sizes[label] && n != 1) {
        throw ShapeError(prefix(equation) + "subscript " + label_name(label) + " has size " +
                         std::to_string(sizes[label]) + " in operand " + std::to_string(size_from[label]) +
                         " (shape " + operands[size_from[label]].shape().str() + ") but size " + std::to_string(n) +
                         " in operand " + std::to_string(k) + " (shape " + operands[k].shape().str() +
                         "); sizes must match or be 1, at " + site.str());
      }
    }
  }

  // Diagonals first: a label repeated within an operand keeps one dim (its first place).
  for (Labeled& term : terms) {
    for (size_t d = 0; d < term.labels.size(); ++d) {
      for (;;) {
        auto repeat = std::find(term.labels.begin() + static_cast<int64_t>(d) + 1, term.labels.end(), term.labels[d]);
        if (repeat == term.labels.end()) break;
        term.t = take_diagonal(term.t, static_cast<int64_t>(d), repeat - term.labels.begin(), site);
        term.labels.erase(repeat);
      }
    }
  }

  // Left to right: after contracting operand k, a label is needed when the output or a later
  // operand has it.
  auto needed_after = [&](size_t k) {
    std::vector<int> needed = output;
    for (size_t j = k + 1; j < terms.size(); ++j) needed.insert(needed.end(), terms[j].labels.begin(), terms[j].labels.end());
    return needed;
  };
  Labeled result = sum_except(terms[0], needed_after(0), site);
  for (size_t k = 1; k < terms.size(); ++k) result = contract(result, terms[k], needed_after(k), site);

  // Every output label is present now, in the order the contractions left them. A size-1 dim
  // that broadcasts against nothing stays 1, as in PyTorch.
  std::vector<int64_t> order;
  for (int label : output) order.push_back(index_of(result.labels, label));
  TL_ASSERT(static_cast<int64_t>(order.size()) == result.t.dim(), "einsum: the result's labels differ from the output's");
  bool is_identity = true;
  for (size_t d = 0; d < order.size(); ++d) is_identity = is_identity && order[d] == static_cast<int64_t>(d);
  return is_identity ? result.t : result.t.permute(Shape(order), site);
}

}  // namespace tl
