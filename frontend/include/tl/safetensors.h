// Plain safetensors files, as the `safetensors` library and Hugging Face models write them
// (no tl metadata; tl's own checkpoints, tl/checkpoint.h, are safetensors files with more).
//
//   tl::io::Safetensors st = tl::io::load_safetensors("model.safetensors");
//   model.load_state_dict(tl::io::rename_keys(st.tensors, {{"classifier.", "fc."}}));
//   tl::io::save_safetensors("out.safetensors", model.state_dict());
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tl/tensor.h"

namespace tl::io {

struct Safetensors {
  std::map<std::string, Tensor> tensors;          // by key, contiguous CPU tensors
  std::map<std::string, std::string> metadata;  // __metadata__, when the file has one
};

// Reads a safetensors file (dtypes F32, F64, F16, BF16, I32, I64, BOOL), verified as
// checkpoints are: the header's length and JSON (no duplicate keys, bounded nesting), every
// entry's dtype, shape and offsets, the tensors packing the data section exactly (no holes,
// overlaps or trailing bytes). Throws IoError naming the file, the byte or the key; nothing is
// allocated for a tensor before its extent is checked against the file's size.
Safetensors load_safetensors(const std::string& path, Site site = Site::here());

// Writes `tensors` (any device and layout; copied to contiguous CPU bytes) with `metadata` as
// a plain safetensors file, atomically (a failed write leaves any previous file intact).
// Throws ValueError for a name or dtype safetensors cannot hold, IoError for the file.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {}, Site site = Site::here());

// `state` with each key's first matching prefix replaced ({"classifier.", "fc."} turns
// "classifier.weight" into "fc.weight"), for loading weights saved under other names.
std::map<std::string, Tensor> rename_keys(const std::map<std::string, Tensor>& state,
                                          const std::vector<std::pair<std::string, std::string>>& prefixes);

}  // namespace tl::io
