// tl::nn::summary: forward hooks on every module record output shapes during one forward.
#include "tl/nn/summary.h"

#include <cstdio>
#include <map>
#include <memory>
#include <vector>

namespace tl::nn {

namespace {
struct Row {
  std::string name;
  std::string type;
  std::string shape = "-";
  int64_t params = 0;
  Module* module = nullptr;
};

void collect(Module& module, const std::string& name, std::vector<Row>& rows) {
  Row row;
  row.name = name.empty() ? "(model)" : name;
  row.type = module.type_name();
  for (const Tensor& p : module.parameters(false)) row.params += p.numel();
  row.module = &module;
  rows.push_back(row);
  for (auto& [child_name, child] : module.named_children())
    collect(*child, name.empty() ? child_name : name + "." + child_name, rows);
}

std::string pad(const std::string& s, size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}
}  // namespace

std::string summary(Module& model, const Tensor& input, Site site) {
  std::vector<Row> rows;
  collect(model, "", rows);
  std::map<Module*, size_t> index;
  for (size_t i = 0; i < rows.size(); ++i) index.emplace(rows[i].module, i);
  std::vector<std::pair<Module*, int>> hooks;
  for (auto& [module, i] : index) {
    size_t row = i;
    hooks.emplace_back(module, module->register_forward_hook(
                                   [&rows, row](Module&, const std::vector<Tensor>&, const Tensor& out) {
                                     rows[row].shape = out.shape().str();
                                     return std::optional<Tensor>();
                                   }));
  }
  try {
    NoGradGuard no_grad;
    model(input, site);
  } catch (...) {
    for (auto& [module, handle] : hooks) module->remove_hook(handle);
    throw;
  }
  for (auto& [module, handle] : hooks) module->remove_hook(handle);

  size_t name_w = 6, type_w = 6, shape_w = 14;
  for (const Row& r : rows) {
    name_w = std::max(name_w, r.name.size() + 2);
    type_w = std::max(type_w, r.type.size() + 2);
    shape_w = std::max(shape_w, r.shape.size() + 2);
  }
  std::string out = pad("Layer", name_w) + pad("Type", type_w) + pad("Output shape", shape_w) + "Params\n";
  out += std::string(name_w + type_w + shape_w + 10, '-') + "\n";
  for (const Row& r : rows)
    out += pad(r.name, name_w) + pad(r.type, type_w) + pad(r.shape, shape_w) + std::to_string(r.params) + "\n";
  out += std::string(name_w + type_w + shape_w + 10, '-') + "\n";
  out += "Total params: " + std::to_string(model.num_parameters()) + "\n";
  out += "Trainable params: " + std::to_string(model.num_parameters(true)) + "\n";
  out += "Input: " + input.shape().str() + " " + dtype_name(input.dtype()) + "\n";
  return out;
}

}  // namespace tl::nn
