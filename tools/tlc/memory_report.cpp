// Memory figures and tables of an artifact's program (memory_report.h).
#include "tools/tlc/memory_report.h"

#include <algorithm>
#include <vector>

#include "runtime/ops/registry.h"
#include "runtime/artifact/artifact.h"
#include "tools/tlc/byte_size.h"

namespace tl::tlc {
namespace {

uint64_t value_bytes(const artifact::Program& p, int v) {
  const artifact::ValueType& t = p.values(v);
  uint64_t n = dtype_size(rt::dtype_from_artifact(t.dtype(), "a value"));
  for (int64_t d : t.shape()) n *= static_cast<uint64_t>(d);
  return n;
}

std::string value_type(const artifact::Program& p, int v) {
  const artifact::ValueType& t = p.values(v);
  std::string s = "[";
  for (int i = 0; i < t.shape_size(); ++i) s += (i ? ", " : "") + std::to_string(t.shape(i));
  return s + "] " + dtype_name(rt::dtype_from_artifact(t.dtype(), "a value"));
}

std::string node_site(const artifact::Node& n) {
  return n.file().empty() ? "" : n.file() + ":" + std::to_string(n.line());
}

int64_t plan_offset(const artifact::Program& p, int v) {
  return p.plan().offsets_size() > v ? p.plan().offsets(v) : -1;
}

// Whether `op` is a view op: its result shares its first operand's memory (the op table says).
bool is_view(const std::string& op) {
  const ops::OpDef* def = ops::find_op(op);
  return def != nullptr && def->view != nullptr;
}

// Per value: the value whose memory it uses (itself unless a view op produced it), as
// trace::plan_memory computes it.
std::vector<int> memory_roots(const artifact::Program& p) {
  std::vector<int> root(p.values_size());
  for (int v = 0; v < p.values_size(); ++v) root[v] = v;
  for (const artifact::Node& n : p.nodes())
    if (is_view(n.op()) && n.inputs_size() > 0 && n.outputs_size() == 1) root[n.outputs(0)] = root[n.inputs(0)];
  return root;
}

// Rows of cells, each column padded to its widest cell; columns listed in `right` are
// right-aligned (numbers).
std::string table(const std::vector<std::vector<std::string>>& rows, const std::vector<size_t>& right) {
  std::vector<size_t> width;
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) {
      if (width.size() <= c) width.push_back(0);
      width[c] = std::max(width[c], row[c].size());
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      const bool is_right = std::find(right.begin(), right.end(), c) != right.end();
      line += "  " + (is_right ? pad + row[c] : row[c] + pad);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string with_commas(uint64_t n) {
  std::string s = format_bytes(n);
  return s.substr(0, s.find(' '));
}

}  // namespace

MemorySummary summarize_memory(const artifact::Program& p) {
  MemorySummary m;
  for (const artifact::Constant& c : p.constants()) m.weights_bytes += c.size();
  m.constants = p.constants_size();
  m.arena_bytes = p.plan().arena_bytes();
  m.arena_values = static_cast<int>(
      std::count_if(p.plan().offsets().begin(), p.plan().offsets().end(), [](int64_t off) { return off >= 0; }));
  // An output has a buffer of its own unless it is a view of an input or a constant; outputs
  // that view one computed value share its buffer.
  const std::vector<int> root = memory_roots(p);
  std::vector<char> is_computed(p.values_size(), 0), counted(p.values_size(), 0);
  for (const artifact::Node& n : p.nodes())
    for (int v : n.outputs()) is_computed[v] = 1;
  for (int v : p.outputs()) {
    const int r = root[v];
    if (is_computed[r] && !counted[r]) m.output_bytes += value_bytes(p, r);
    counted[r] = 1;
  }
  m.kernels = p.nodes_size();
  m.peak_bytes = m.weights_bytes + m.arena_bytes + m.output_bytes;
  return m;
}

std::string format_summary(const MemorySummary& m) {
  auto count = [](int n, const char* one) { return std::to_string(n) + " " + one + (n == 1 ? "" : "s"); };
  return table({{"weights", format_bytes(m.weights_bytes), "in " + count(m.constants, "constant")},
                {"arena", format_bytes(m.arena_bytes), "for " + count(m.arena_values, "intermediate")},
                {"outputs", format_bytes(m.output_bytes), "allocated by each call"},
                {"peak", format_bytes(m.peak_bytes), "= weights + arena + outputs"},
                {"kernels", count(m.kernels, "call")}},
               {});
}

std::string format_largest_buffers(const artifact::Program& p, const artifact::Manifest& manifest, size_t n) {
  struct Buffer {
    uint64_t bytes;
    std::vector<std::string> cells;
  };
  const std::vector<int> root = memory_roots(p);
  // The first kernel that reads each buffer, through any views of it.
  std::vector<int> producer(p.values_size(), -1), first_reader(p.values_size(), -1);
  for (int k = 0; k < p.nodes_size(); ++k) {
    for (int v : p.nodes(k).outputs()) producer[v] = k;
    if (is_view(p.nodes(k).op())) continue;
    for (int v : p.nodes(k).inputs())
      if (first_reader[root[v]] < 0) first_reader[root[v]] = k;
  }
  auto made_by = [&](int v) {
    int k = producer[v];
    return k < 0 ? std::string() : "made by " + p.nodes(k).op() + (p.nodes(k).file().empty() ? "" : " at " + node_site(p.nodes(k)));
  };
  std::vector<Buffer> buffers;
  for (const artifact::Constant& c : p.constants()) {
    int k = first_reader[c.value()];
    std::string use = k < 0 ? "unread" : "read by " + p.nodes(k).op() + (p.nodes(k).file().empty() ? "" : " at " + node_site(p.nodes(k)));
    buffers.push_back({c.size(), {"weight", "%" + std::to_string(c.value()), value_type(p, c.value()), use}});
  }
  for (int v = 0; v < p.plan().offsets_size(); ++v)
    if (p.plan().offsets(v) >= 0)
      buffers.push_back({value_bytes(p, v), {"arena", "%" + std::to_string(v), value_type(p, v), made_by(v)}});
  // Each output's buffer, once (summarize_memory's rule).
  std::vector<char> listed(p.values_size(), 0);
  for (int i = 0; i < p.outputs_size(); ++i) {
    const int v = root[p.outputs(i)];
    if (producer[v] < 0 || listed[v]) continue;
    listed[v] = 1;
    std::string name = i < manifest.outputs_size() ? " '" + manifest.outputs(i).name() + "'" : "";
    buffers.push_back({value_bytes(p, v), {"output" + name, "%" + std::to_string(v), value_type(p, v), made_by(v)}});
  }
  std::stable_sort(buffers.begin(), buffers.end(), [](const Buffer& a, const Buffer& b) { return a.bytes > b.bytes; });
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < buffers.size() && i < n; ++i) {
    std::vector<std::string> row = {buffers[i].cells[0], buffers[i].cells[1], buffers[i].cells[2], format_bytes(buffers[i].bytes),
                                    buffers[i].cells[3]};
    rows.push_back(std::move(row));
  }
  return table(rows, {});
}

std::string format_plan(const artifact::Program& p, const artifact::Manifest& manifest) {
  std::vector<std::vector<std::string>> rows = {{"node", "op", "result", "type", "bytes", "placement", "source"}};
  const std::vector<int> root = memory_roots(p);
  std::vector<int> output_of(p.values_size(), -1);  // the output index each root's memory is returned as
  for (int i = p.outputs_size() - 1; i >= 0; --i) output_of[root[p.outputs(i)]] = i;
  auto output_name = [&](int i) {
    return i < manifest.outputs_size() ? "'" + manifest.outputs(i).name() + "'" : std::to_string(i);
  };
  for (int k = 0; k < p.nodes_size(); ++k) {
    const artifact::Node& n = p.nodes(k);
    // Flags show with the op: conv2d+relu, matmul_bias+relu (epilogues the compiler folded).
    std::string op = n.op();
    for (const artifact::Attribute& a : n.attrs()) {
      if (a.value_case() == artifact::Attribute::kUnit && a.unit()) op += "+" + a.name();
    }
    for (int v : n.outputs()) {
      std::string placement;
      const int64_t off = plan_offset(p, v);
      const uint64_t bytes = value_bytes(p, v);
      if (root[v] != v) {
        placement = "view of %" + std::to_string(n.inputs(0)) + " (shares its memory)";
      } else if (off >= 0) {
        placement = "arena [" + std::to_string(off) + ", " + std::to_string(off + static_cast<int64_t>(bytes)) + ")";
      } else if (output_of[v] >= 0) {
        placement = "own buffer, returned as output " + output_name(output_of[v]);
      } else {
        placement = "own buffer";  // not planned: the executor allocates it at run time
      }
      rows.push_back({std::to_string(k), op, "%" + std::to_string(v), value_type(p, v), with_commas(bytes), placement,
                      node_site(n)});
    }
  }
  return table(rows, {0, 4});
}

std::string format_constants(const artifact::Program& p) {
  std::vector<std::vector<std::string>> rows = {{"value", "type", "bytes", "weights bytes"}};
  for (const artifact::Constant& c : p.constants())
    rows.push_back({"%" + std::to_string(c.value()), value_type(p, c.value()), with_commas(c.size()),
                    "[" + std::to_string(c.offset()) + ", " + std::to_string(c.offset() + c.size()) + ")"});
  return table(rows, {2});
}

}  // namespace tl::tlc
