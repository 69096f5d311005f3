// Helpers shared by the checkpoint tests: scratch folders, raw file access, small models and
// hand-edited headers.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "frontend/io/crc32c.h"
#include "tests/support/scratch_dir.h"
#include "tl/checkpoint.h"
#include "tl/tl.h"

namespace checkpoint_test {

using namespace tl;
namespace fs = std::filesystem;
using json = nlohmann::json;

// A scratch folder named for these tests.
struct ScratchDir : tl::testing::ScratchDir {
  ScratchDir() : tl::testing::ScratchDir("tl_checkpoint_test") {}
};

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
// Replaces rather than truncates: truncating a file makes ext4 flush it on close
// (auto_da_alloc), which turns the sweeps' thousands of writes into disk waits.
inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::error_code ec;
  fs::remove(path, ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The raw bytes of every tensor in a state dict, for bitwise comparison.
inline std::map<std::string, std::string> snapshot(const std::map<std::string, Tensor>& state) {
  std::map<std::string, std::string> out;
  for (const auto& [name, t] : state) {
    Tensor c = t.detach().contiguous();
    out[name] = std::string(static_cast<const char*>(c.data_ptr()), c.nbytes()) + "|" + c.shape().str() + dtype_name(c.dtype());
  }
  return out;
}

// A Stateful whose state is a counter and a label, like a data loader's position.
struct Counter : Stateful {
  std::string key = "counter";
  int64_t position = 0;
  std::string label;
  std::string state_key() const override { return key; }
  std::string save_state() const override { return json{{"position", position}, {"label", label}}.dump(); }
  void load_state(const std::string& text) override {
    json j = json::parse(text);
    if (!j.contains("position")) throw ValueError("Counter: no position");
    position = j["position"].get<int64_t>();
    label = j["label"].get<std::string>();
  }
};

// A small model with a buffer, for sweeps.
struct Tiny : nn::Module {
  nn::Linear fc{3, 2};
  Tensor steps;
  Tiny() {
    register_module("fc", fc);
    steps = register_buffer("steps", from_vector<int64_t>({5}));
  }
  Tensor forward(const Tensor& x) override { return fc(x); }
};

inline void train_a_little(nn::Module& model, optim::Optimizer& opt, int steps) {
  for (int i = 0; i < steps; ++i) {
    Tensor x = randn({4, 3});
    Tensor loss = model(x).pow(2).mean();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
}

// Writes a safetensors file whose header is `header` plus a valid header checksum and tl's
// required metadata, followed by `data`. For building malformed files by hand.
inline void craft(const std::string& path, json header, const std::string& data) {
  json& meta = header["__metadata__"];
  if (!meta.contains("format")) meta["format"] = "tracelight.checkpoint";
  if (!meta.contains("format_version")) meta["format_version"] = "1";
  if (!meta.contains("crc32c")) {
    json crcs = json::object();
    for (const auto& [name, v] : header.items())
      if (name != "__metadata__") crcs[name] = "00000000";
    meta["crc32c"] = crcs.dump();
  }
  std::string canonical = header.dump();
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", detail::crc32c(canonical.data(), canonical.size()));
  header["__metadata__"]["header_crc32c"] = buf;
  std::string text = header.dump();
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(static_cast<uint64_t>(text.size()) >> (8 * i));
  write_bytes(path, bytes + text + data);
}

// Rewrites the checkpoint at `path` with its "__metadata__" changed by `edit`, a fresh header
// checksum and the same tensor data: a file tl::save would not write, but a sound one.
inline void edit_metadata(const std::string& path, const std::function<void(json&)>& edit) {
  std::string bytes = read_bytes(path);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  json header = json::parse(bytes.substr(8, n));
  edit(header["__metadata__"]);
  header["__metadata__"].erase("header_crc32c");
  std::string canonical = header.dump();
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", detail::crc32c(canonical.data(), canonical.size()));
  header["__metadata__"]["header_crc32c"] = buf;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string length(8, '\0');
  for (int i = 0; i < 8; ++i) length[i] = static_cast<char>(static_cast<uint64_t>(text.size()) >> (8 * i));
  write_bytes(path, length + text + bytes.substr(8 + n));
}

// The message of the error tl::load throws, "" if it loads; the error names the caller's line.
inline std::string load_error(const std::string& path, nn::Module& model, optim::Optimizer* opt = nullptr,
                              Site site = Site::here()) {
  try {
    load(path, model, opt, nullptr, {}, site);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace checkpoint_test
