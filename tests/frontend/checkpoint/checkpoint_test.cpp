#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "frontend/io/crc32c.h"
#include "runtime/base/file_io.h"
#include "checkpoint_test_util.h"
#include "resume_mlp.h"
#include "tl/checkpoint.h"
#include "tl/tl.h"

using namespace tl;
namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace checkpoint_test;

TEST_CASE("crc32c matches the standard check value in hardware and software", "[checkpoint][crc32c]") {
  const char* digits = "123456789";
  CHECK(detail::crc32c(digits, 9) == 0xE3069283u);
  CHECK(detail::crc32c_portable(digits, 9) == 0xE3069283u);
  std::string long_text(1000, '\0');
  for (size_t i = 0; i < long_text.size(); ++i) long_text[i] = static_cast<char>(i * 7 + 3);
  CHECK(detail::crc32c(long_text.data(), long_text.size()) == detail::crc32c_portable(long_text.data(), long_text.size()));
  CHECK(detail::crc32c(long_text.data() + 10, 990, detail::crc32c(long_text.data(), 10)) ==
        detail::crc32c(long_text.data(), 1000));
}

TEST_CASE("save then load restores model, Adam moments, step, RNG, metadata and Stateful state bit for bit",
          "[checkpoint]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  manual_seed(1);
  Tiny model;
  optim::Adam opt(model.parameters(), {.lr = 3e-3});
  train_a_little(model, opt, 3);
  opt.set_lr(1.2345e-3);
  Counter counter;
  counter.position = 42;
  counter.label = "epoch 2, shard \"b\"";
  save(path, model, &opt, {.step = 3, .epoch = 2, .metadata = {{"run", "r1"}, {"note", "ü \n"}}, .stateful = {&counter}});
  GeneratorState rng = default_generator().state();
  Tensor draw = randn({5});

  manual_seed(99);
  Tiny other;
  optim::Adam other_opt(other.parameters(), {.lr = 3e-3});
  Counter other_counter;
  CheckpointExtra extra{.stateful = {&other_counter}};
  load(path, other, &other_opt, &extra);

  CHECK(snapshot(other.state_dict()) == snapshot(model.state_dict()));
  CHECK(snapshot(other_opt.state()) == snapshot(opt.state()));
  CHECK(other_opt.state().count("0.exp_avg_sq") == 1);
  CHECK(other_opt.lr() == 1.2345e-3);
  CHECK(extra.step == 3);
  CHECK(extra.epoch == 2);
  CHECK(extra.metadata == std::map<std::string, std::string>{{"run", "r1"}, {"note", "ü \n"}});
  CHECK(other_counter.position == 42);
  CHECK(other_counter.label == counter.label);
  CHECK(default_generator().state().seed == rng.seed);
  CHECK(default_generator().state().offset == rng.offset);
  CHECK(snapshot({{"draw", randn({5})}}) == snapshot({{"draw", draw}}));
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});
}

TEST_CASE("a tl checkpoint is a valid safetensors file that python reads", "[checkpoint][interop]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  manual_seed(2);
  Tiny model;
  optim::Adam opt(model.parameters());
  train_a_little(model, opt, 1);
  save(path, model, &opt, {.step = 1});
  if (::access("/usr/bin/python3", X_OK) != 0) {
    WARN("skipped: /usr/bin/python3 is not available");
    return;
  }
  // Parses the format with json + numpy only (the safetensors module may be absent), checks
  // the packing rules and prints each tensor's name and values.
  std::string script = dir.file("read.py");
  write_bytes(script, R"(import json, struct, sys
try:
    import numpy as np
except ImportError:
    print("SKIP numpy"); sys.exit(0)
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
meta = header.pop("__metadata__")
assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
types = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I32": "<i4", "I64": "<i8", "BOOL": "?"}
end = 0
for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
    b, t = e["data_offsets"]
    assert b == end, (name, b, end)
    end = t
    a = np.frombuffer(data[b:t], dtype=types[e["dtype"]]).reshape(e["shape"])
    print(name, " ".join(repr(float(v)) for v in a.reshape(-1)))
assert end == len(data)
print("STEP", meta["step"])
)");
  std::string out = dir.file("out.txt");
  int rc = std::system(("/usr/bin/python3 " + script + " " + path + " > " + out + " 2>&1").c_str());
  std::string text = read_bytes(out);
  INFO(text);
  REQUIRE(rc == 0);
  if (text.rfind("SKIP", 0) == 0) {
    WARN("skipped: python3 has no numpy");
    return;
  }
  std::map<std::string, std::vector<double>> seen;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string name;
    words >> name;
    double v;
    while (words >> v) seen[name].push_back(v);
  }
  CHECK(seen["STEP"] == std::vector<double>{1});
  for (const auto& [name, t] : model.state_dict()) CHECK(seen["model." + name] == t.to_vector<double>());
  for (const auto& [name, t] : opt.state()) {
    if (name != "optimizer.Adam") CHECK(seen["optimizer." + name] == t.to_vector<double>());
  }
}

TEST_CASE("a checkpoint truncated at any byte offset is refused and the model is untouched",
          "[checkpoint][reliability]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  manual_seed(3);
  Tiny model;
  optim::Adam opt(model.parameters());
  train_a_little(model, opt, 2);
  save(path, model, &opt, {.step = 2});
  std::string bytes = read_bytes(path);
  Tiny target;
  optim::Adam target_opt(target.parameters());
  auto before = snapshot(target.state_dict());
  std::string cut = dir.file("cut.safetensors");
  size_t refused = 0, named_tensor = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    write_bytes(cut, bytes.substr(0, n));
    std::string err = load_error(cut, target, &target_opt);
    if (!err.empty() && err.find(cut) != std::string::npos && err.find("truncated") != std::string::npos) ++refused;
    if (err.find("truncated: tensor '") != std::string::npos) ++named_tensor;
    REQUIRE(snapshot(target.state_dict()) == before);
  }
  INFO("file size " << bytes.size());
  CHECK(refused == bytes.size());
  CHECK(named_tensor > 0);
  WARN("truncation sweep: " << refused << " of " << bytes.size() << " prefixes refused");
  load(path, target, &target_opt);
  CHECK(snapshot(target.state_dict()) == snapshot(model.state_dict()));
}

TEST_CASE("a single flipped bit anywhere in a checkpoint is refused and the model is untouched",
          "[checkpoint][reliability]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  manual_seed(4);
  Tiny model;
  optim::Adam opt(model.parameters());
  train_a_little(model, opt, 2);
  save(path, model, &opt, {.step = 2, .metadata = {{"k", "v"}}});
  std::string bytes = read_bytes(path);
  Tiny target;
  optim::Adam target_opt(target.parameters());
  auto before = snapshot(target.state_dict());
  std::string flipped = dir.file("flipped.safetensors");
  size_t refused = 0, checksum = 0;
  for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    std::string b = bytes;
    b[bit / 8] = static_cast<char>(b[bit / 8] ^ (1 << (bit % 8)));
    write_bytes(flipped, b);
    std::string err = load_error(flipped, target, &target_opt);
    if (!err.empty()) ++refused;
    else FAIL_CHECK("bit " << bit << " (byte " << bit / 8 << ") flipped and the file still loaded");
    if (err.find("checksum mismatch") != std::string::npos) ++checksum;
    REQUIRE(snapshot(target.state_dict()) == before);
  }
  CHECK(refused == bytes.size() * 8);
  CHECK(checksum > 0);
  WARN("bit-flip sweep: " << refused << " of " << bytes.size() * 8 << " flips refused (" << checksum
                          << " by a checksum, the rest by structure checks)");
}

TEST_CASE("a save failing with ENOSPC or EIO at any I/O call leaves the previous checkpoint and no temporary",
          "[checkpoint][reliability]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  manual_seed(5);
  Tiny model;
  optim::Adam opt(model.parameters());
  train_a_little(model, opt, 1);
  save(path, model, &opt, {.step = 1});
  std::string old_bytes = read_bytes(path);
  auto old_state = snapshot(model.state_dict());
  train_a_little(model, opt, 1);  // the model now differs from the saved one
  auto new_state = snapshot(model.state_dict());
  REQUIRE(new_state != old_state);

  detail::file_io_fail_at(0, 0);
  std::string probe = dir.file("probe.safetensors");
  save(probe, model, &opt, {.step = 2});
  uint64_t calls = detail::file_io_calls();
  fs::remove(probe);
  REQUIRE(calls >= 8);  // open, writes, fsync, close, rename, open dir, fsync dir

  size_t tried = 0, survived = 0;
  for (int error : {ENOSPC, EIO}) {
    for (uint64_t k = 1; k <= calls; ++k) {
      detail::file_io_fail_at(k, error);
      std::string err;
      try {
        save(path, model, &opt, {.step = 2});
      } catch (const IoError& e) {
        err = e.what();
      }
      detail::file_io_fail_at(0, 0);
      ++tried;
      INFO("call " << k << " of " << calls << " failing with " << std::strerror(error) << ": " << err);
      CHECK(!err.empty());
      CHECK(err.find(path) != std::string::npos);
      CHECK(err.find(std::strerror(error)) != std::string::npos);
      CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});
      Tiny loaded;
      load(path, loaded);
      // The last two calls sync the directory after the rename: the new file is in place
      // (complete), but save still reports that it may not be durable.
      bool renamed = k >= calls - 1;
      if (renamed) {
        CHECK(snapshot(loaded.state_dict()) == new_state);
        CHECK(err.find("was written completely") != std::string::npos);
      } else {
        CHECK(read_bytes(path) == old_bytes);
        CHECK(snapshot(loaded.state_dict()) == old_state);
      }
      if (k >= 2 && k <= calls - 5 && error == ENOSPC) CHECK(err.find("bytes needed") != std::string::npos);
      if (!err.empty() && dir.entries().size() == 1) ++survived;
      if (renamed) write_bytes(path, old_bytes);
    }
  }
  CHECK(survived == tried);
  WARN("fault injection: " << survived << " of " << tried << " injected failures (" << calls
                           << " I/O calls per save x ENOSPC/EIO) left a loadable checkpoint and no temporary");
}

TEST_CASE("a save hitting the file size limit (EFBIG) leaves the previous checkpoint and no temporary",
          "[checkpoint][reliability]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  nn::Linear small(2, 2);
  save(path, small);
  std::string old_bytes = read_bytes(path);
  nn::Linear big(256, 256);  // 256 KB of weights, over the 64 KB limit set below
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // A real limit rather than an injected error: write(2) fails with EFBIG once the file
    // would pass 64 KB (SIGXFSZ ignored, as a process that wants the error must).
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{64 << 10, 64 << 10};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      save(path, big);
    } catch (const IoError& e) {
      std::string what = e.what();
      bool named = what.find(path) != std::string::npos && what.find("bytes needed") != std::string::npos &&
                   what.find(std::strerror(EFBIG)) != std::string::npos;
      ::_exit(named ? 0 : 2);
    }
    ::_exit(1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);  // 1: save succeeded, 2: the error lacked path, bytes or errno
  CHECK(read_bytes(path) == old_bytes);
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});
}

TEST_CASE("kill -9 at random points of a save leaves the old or the new checkpoint", "[checkpoint][reliability][slow]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  const char* bounded = std::getenv("TL_SLOW_BOUNDED");
  int points = bounded && std::string(bounded) == "1" ? 20 : 120;
  manual_seed(6);
  // A model big enough that a save takes a while: kills land inside writes as well as
  // between the calls. The child saves no optimizer: its state() clones tensors, and
  // OpenMP-parallel ops are not safe in a forked child.
  nn::Sequential model(nn::Linear(64, 256), nn::ReLU(), nn::Linear(256, 256));
  save(path, model, nullptr, {.step = 0});
  std::mt19937 rng(123);
  size_t old_seen = 0, new_seen = 0;
  for (int point = 0; point < points; ++point) {
    int64_t tag = point + 1;
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // Alternates between two versions: each save replaces the last.
      for (int64_t i = 0;; ++i) {
        try {
          save(path, model, nullptr, {.step = (i % 2) ? -tag : tag});
        } catch (...) {
          ::_exit(3);
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 20000));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    nn::Sequential loaded(nn::Linear(64, 256), nn::ReLU(), nn::Linear(256, 256));
    CheckpointExtra extra;
    INFO("kill point " << point);
    REQUIRE_NOTHROW(load(path, loaded, nullptr, &extra));
    CHECK(snapshot(loaded.state_dict()) == snapshot(model.state_dict()));
    bool is_previous = extra.step == point;
    bool is_new = extra.step == tag || extra.step == -tag;
    CHECK((is_previous || is_new));
    (is_new ? new_seen : old_seen)++;
    // The next save removes a dead child's temporary once it is old enough.
    dir.age_files();
    save(path, model, nullptr, {.step = tag});
    CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});
  }
  WARN("kill -9: " << points << " kill points, all loadable (" << new_seen << " found the newest save, " << old_seen
                   << " the previous one)");
}

TEST_CASE("a temporary orphaned by a crashed save is ignored by load and removed by the next save", "[checkpoint]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  Tiny model;
  save(path, model);
  std::string orphan = dir.file(".ckpt.safetensors.tmp.2147483646.0.deadbeef");
  write_bytes(orphan, "partial");
  Tiny loaded;
  load(path, loaded);
  CHECK(fs::exists(orphan));
  save(path, model);
  CHECK(fs::exists(orphan));  // unlocked, but too recent: it could be a writer that takes no lock
  dir.age_files();
  save(path, model);
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});
}

TEST_CASE("save refuses a destination that is a directory or a symbolic link", "[checkpoint]") {
  ScratchDir dir;
  Tiny model;
  fs::create_directory(dir.file("d"));
  CHECK_THROWS_WITH(save(dir.file("d"), model), Catch::Contains("is a directory") && Catch::Contains(dir.file("d")));
  save(dir.file("real"), model);
  fs::create_symlink(dir.file("real"), dir.file("link"));
  CHECK_THROWS_WITH(save(dir.file("link"), model), Catch::Contains("symbolic link"));
  CHECK(fs::is_symlink(dir.file("link")));
  CHECK_THROWS_WITH(save(dir.file("missing/ckpt"), model), Catch::Contains("missing/ckpt"));
}

TEST_CASE("loading into another model lists every missing key, unexpected key and shape mismatch", "[checkpoint]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  nn::Sequential saved(nn::Linear(4, 8), nn::ReLU(), nn::Linear(8, 2));
  save(path, saved);
  nn::Sequential other(nn::Linear(4, 8), nn::ReLU(), nn::Linear(8, 3), nn::Linear(3, 1, /*bias=*/false));
  auto before = snapshot(other.state_dict());
  std::string err = load_error(path, other);
  CHECK(err.find(path) != std::string::npos);
  CHECK(err.find("missing keys (1): 3.weight") != std::string::npos);
  CHECK(err.find("shape mismatches (2): 2.bias (checkpoint [2], model [3]), 2.weight (checkpoint [2, 8], model [3, 8])") !=
        std::string::npos);
  CHECK(err.find("nothing was loaded") != std::string::npos);
  CHECK(snapshot(other.state_dict()) == before);
  nn::Sequential smaller(nn::Linear(4, 8));
  err = load_error(path, smaller);
  CHECK(err.find("unexpected keys (2): 2.bias, 2.weight") != std::string::npos);
}

TEST_CASE("optimizer state of another type or parameter count is refused before anything changes", "[checkpoint]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  manual_seed(7);
  Tiny model;
  optim::Adam adam(model.parameters());
  train_a_little(model, adam, 1);
  save(path, model, &adam);

  Tiny target;
  auto before = snapshot(target.state_dict());
  GeneratorState rng = default_generator().state();
  optim::SGD sgd(target.parameters(), {.lr = 0.1, .momentum = 0.9});
  CHECK_THAT(load_error(path, target, &sgd), Catch::Contains("saved by Adam, not SGD") && Catch::Contains(path));
  optim::Adam fewer(std::vector<Tensor>{target.fc.weight});
  CHECK_THAT(load_error(path, target, &fewer), Catch::Contains("state is for 2 parameters, this Adam has 1"));
  CHECK(snapshot(target.state_dict()) == before);
  CHECK(fewer.state().size() == 1);  // only the type tag: no moments were loaded
  CHECK(default_generator().state().offset == rng.offset);

  Tiny no_opt;
  save(path, no_opt);
  optim::Adam wanted(target.parameters());
  CHECK_THAT(load_error(path, target, &wanted), Catch::Contains("holds no optimizer state"));
}

TEST_CASE("a Stateful object that refuses its state rolls back the optimizer and the others", "[checkpoint]") {
  ScratchDir dir;
  std::string path = dir.file("ckpt.safetensors");
  manual_seed(8);
  Tiny model;
  optim::Adam adam(model.parameters());
  train_a_little(model, adam, 1);
  Counter a, b;
  b.key = "b";
  a.position = 10;
  b.position = 20;
  save(path, model, &adam, {.stateful = {&a, &b}});

  Tiny target;
  optim::Adam target_opt(target.parameters());
  auto model_before = snapshot(target.state_dict());
  Counter ta;
  ta.position = 1;
  struct Refuses : Counter {
    void load_state(const std::string&) override { throw ValueError("Refuses: not my state"); }
  } tb;
  tb.key = "b";
  CheckpointExtra extra{.stateful = {&ta, &tb}};
  std::string err;
  try {
    load(path, target, &target_opt, &extra);
  } catch (const ValueError& e) {
    err = e.what();
  }
  CHECK(err.find("Stateful 'b' refused its state: Refuses: not my state") != std::string::npos);
  CHECK(ta.position == 1);
  CHECK(target_opt.state().size() == 1);
  CHECK(snapshot(target.state_dict()) == model_before);

  Counter missing;
  missing.key = "loader";
  CheckpointExtra wants{.stateful = {&missing}};
  CHECK_THROWS_WITH(load(path, target, nullptr, &wants), Catch::Contains("no state for Stateful 'loader'") &&
                                                             Catch::Contains("'b', 'counter'"));
}

TEST_CASE("malformed headers are refused with an error naming the file and the problem", "[checkpoint][reliability]") {
  ScratchDir dir;
  std::string path = dir.file("bad.safetensors");
  Tiny model;
  auto before = snapshot(model.state_dict());
  std::string four(4, '\0');
  auto expect = [&](const std::string& what) {
    std::string err = load_error(path, model);
    INFO(err);
    CHECK(err.find(path) != std::string::npos);
    CHECK(err.find(what) != std::string::npos);
    CHECK(snapshot(model.state_dict()) == before);
  };
  auto entry = [](const char* dtype, json shape, uint64_t b, uint64_t e) {
    return json{{"dtype", dtype}, {"shape", shape}, {"data_offsets", {b, e}}};
  };

  std::string huge(8, '\0');
  huge[4] = 1;  // 2^32 bytes
  write_bytes(path, huge + "{}");
  expect("over the 104857600-byte cap");
  std::string small(8, '\0');
  small[0] = 100;
  write_bytes(path, small + "{}");
  expect("truncated: the header needs bytes [8, 108), the file ends at byte 10");
  std::string dup = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  std::string len(8, '\0');
  len[0] = static_cast<char>(dup.size());
  write_bytes(path, len + dup + four);
  expect("the key 'a' twice");
  std::string broken = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";  // one '}' short
  len[0] = static_cast<char>(broken.size());
  write_bytes(path, len + broken + four);
  expect("not valid JSON");

  craft(path, {{"w", entry("U8", {4}, 0, 4)}}, four);
  expect("tensor 'w': unknown dtype 'U8'");
  craft(path, {{"w", entry("F32", {1}, 0, 4)}, {"__metadata__", {{"step", 3}}}}, four);
  expect("metadata 'step' is number, expected a string");
  craft(path, {{"w", entry("F32", {2}, 0, 4)}}, four);
  expect("tensor 'w': shape [2] x F32 is 8 bytes, but data_offsets [0, 4) hold 4");
  craft(path, {{"w", entry("F32", {-1}, 0, 4)}}, four);
  expect("tensor 'w': dimension 0 is negative: -1");
  craft(path, {{"w", entry("F32", {1ull << 40, 1ull << 40}, 0, 4)}}, four);
  expect("overflows 64 bits");
  craft(path, {{"w", entry("F32", {1, 1, 1, 1, 1, 1, 1, 1, 1}, 0, 4)}}, four);
  expect("rank 9 is over tl's maximum rank 8");
  craft(path, {{"a", entry("F32", {1}, 0, 4)}, {"b", entry("F32", {1}, 2, 6)}}, four + four);
  expect("tensor 'b' at data bytes [2, 6) overlaps tensor 'a', which ends at 4");
  craft(path, {{"a", entry("F32", {1}, 0, 4)}, {"b", entry("F32", {1}, 8, 12)}}, four + four + four);
  expect("tensor 'b' begins at data byte 8, leaving a hole after byte 4");
  craft(path, {{"a", entry("F32", {1}, 0, 4)}}, four + four);
  expect("trailing bytes after the last tensor");
  craft(path, {{"a", entry("F32", {1}, 0, 4)}, {"b", entry("F32", {1}, 4, 8)}}, four + "xy");
  expect("truncated: tensor 'b' needs bytes [");
  craft(path, {{"w", entry("F32", {1}, 0, 4)}, {"__metadata__", {{"format_version", "3"}}}}, four);
  expect("written by format v3; this build reads v1");
  craft(path, {{"w", entry("F32", {1}, 0, 4)}, {"__metadata__", {{"format", "other"}}}}, four);
  expect("not a tl checkpoint");
  craft(path, {{"model.fc.weight", entry("F32", {1}, 0, 4)}}, four);
  expect("checksum mismatch in tensor 'model.fc.weight'");
  write_bytes(path, "");
  expect("truncated: the header length field needs bytes [0, 8), the file ends at byte 0");
  CHECK_THROWS_AS(load(dir.file("absent"), model), IoError);
}

TEST_CASE("training resumed from a checkpoint in a new process matches an uninterrupted run bit for bit",
          "[checkpoint][resume]") {
  constexpr int64_t N = 12;
  manual_seed(2024);
  auto straight = resume::make_mlp();
  optim::Adam straight_opt(straight.parameters(), resume::adam_options());
  auto straight_losses = resume::train(straight, straight_opt, 0, 2 * N);
  auto straight_params = resume::parameter_bits(straight);

  ScratchDir dir;
  std::string path = dir.file("half.safetensors");
  manual_seed(2024);
  auto first = resume::make_mlp();
  optim::Adam first_opt(first.parameters(), resume::adam_options());
  auto first_losses = resume::train(first, first_opt, 0, N);
  save(path, first, &first_opt, {.step = N});
  REQUIRE(std::vector<uint32_t>(straight_losses.begin(), straight_losses.begin() + N) == first_losses);

  std::string out = dir.file("resumed.txt");
  std::string cmd = std::string(TL_CHECKPOINT_HELPER) + " " + path + " " + std::to_string(N) + " " + out;
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream in(out);
  auto read_list = [&] {
    size_t n = 0;
    in >> n;
    std::vector<uint32_t> v(n);
    for (auto& b : v) in >> std::hex >> b >> std::dec;
    return v;
  };
  auto resumed_losses = read_list();
  auto resumed_params = read_list();
  CHECK(resumed_losses == std::vector<uint32_t>(straight_losses.begin() + N, straight_losses.end()));
  CHECK(resumed_params == straight_params);
  // Dropout draws make the run depend on the RNG: a run without the restored RNG state differs.
  manual_seed(1);
  auto unseeded = resume::make_mlp();
  optim::Adam unseeded_opt(unseeded.parameters(), resume::adam_options());
  load(path, unseeded, &unseeded_opt);
  manual_seed(5);
  CHECK(resume::train(unseeded, unseeded_opt, N, 2 * N) != resumed_losses);
}

TEST_CASE("a shuffling DataLoader saved mid-epoch resumes in a new process with the same batches and losses",
          "[checkpoint][resume][data]") {
  // 100 rows in batches of 16: 7 batches per epoch. N = 10 stops at epoch 1, batch 3; the
  // resumed part crosses two more epoch boundaries and two short last batches.
  constexpr int64_t N = 10, M = 15;
  manual_seed(77);
  auto straight = resume::make_mlp();
  optim::Adam straight_opt(straight.parameters(), resume::adam_options());
  data::DataLoader straight_loader(resume::table(), resume::loader_options());
  auto straight_steps = resume::train_from(straight, straight_opt, straight_loader, N + M);
  auto straight_params = resume::parameter_bits(straight);

  ScratchDir dir;
  std::string path = dir.file("mid_epoch.tlckpt");
  manual_seed(77);
  auto first = resume::make_mlp();
  optim::Adam first_opt(first.parameters(), resume::adam_options());
  data::DataLoader first_loader(resume::table(), resume::loader_options());
  auto first_steps = resume::train_from(first, first_opt, first_loader, N);
  REQUIRE(first_steps == std::vector<resume::Step>(straight_steps.begin(), straight_steps.begin() + N));
  REQUIRE(first_loader.epoch() == 1);
  REQUIRE(first_loader.position() == 3);
  save(path, first, &first_opt, {.step = N, .epoch = first_loader.epoch(), .stateful = {&first_loader}});

  // The new process prepares batches serially, then with two prefetching workers: the same batches.
  for (int workers : {0, 2}) {
    CAPTURE(workers);
    std::string out = dir.file("resumed_" + std::to_string(workers) + ".txt");
    std::string cmd = std::string(TL_LOADER_RESUME_HELPER) + " " + path + " " + std::to_string(M) + " " +
                      std::to_string(workers) + " " + out;
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::ifstream in(out);
    int64_t step = -1, epoch = -1, position = -1;
    size_t count = 0;
    in >> step >> epoch >> position >> count;
    CHECK(step == N);
    CHECK(epoch == 1);
    CHECK(position == 3);
    std::vector<resume::Step> resumed(count);
    for (auto& s : resumed) {
      size_t n = 0;
      in >> std::hex >> s.loss >> std::dec >> n;
      s.batch.resize(n);
      for (auto& b : s.batch) in >> std::hex >> b >> std::dec;
    }
    size_t num_params = 0;
    in >> num_params;
    std::vector<uint32_t> params(num_params);
    for (auto& b : params) in >> std::hex >> b >> std::dec;
    REQUIRE(in.good());
    REQUIRE(resumed.size() == static_cast<size_t>(M));
    for (int64_t i = 0; i < M; ++i) {
      CAPTURE(i);
      CHECK(resumed[static_cast<size_t>(i)].batch == straight_steps[static_cast<size_t>(N + i)].batch);
      CHECK(resumed[static_cast<size_t>(i)].loss == straight_steps[static_cast<size_t>(N + i)].loss);
    }
    CHECK(params == straight_params);
  }

  // Without the loader's state a new loader (another seed, epoch 0) feeds other batches.
  manual_seed(5);
  auto other = resume::make_mlp();
  optim::Adam other_opt(other.parameters(), resume::adam_options());
  data::DataLoader other_loader(resume::table(), resume::loader_options());
  load(path, other, &other_opt);
  auto other_steps = resume::train_from(other, other_opt, other_loader, M);
  CHECK(other_steps[0].batch != straight_steps[N].batch);
}

TEST_CASE("a checkpoint without RNG state is refused unless the caller opts in to a warning",
          "[checkpoint][reliability]") {
  ScratchDir dir;
  std::string path = dir.file("no_rng.tlckpt");
  manual_seed(3);
  Tiny saved;
  save(path, saved, nullptr, {.step = 7});
  edit_metadata(path, [](json& meta) { meta.erase("rng"); });

  manual_seed(4);
  Tiny model;
  auto before = snapshot(model.state_dict());
  GeneratorState rng = default_generator().state();
  std::string error = load_error(path, model);
  CHECK_THAT(error, Catch::Contains("the metadata has no 'rng'"));
  CHECK_THAT(error, Catch::Contains("MissingState::kWarn"));
  CHECK_THAT(error, Catch::Contains("checkpoint_test.cpp:"));
  CHECK(snapshot(model.state_dict()) == before);

  CheckpointExtra extra;
  LoadReport report = load(path, model, nullptr, &extra, {.missing_state = MissingState::kWarn});
  REQUIRE(report.warnings.size() == 1);
  CHECK_THAT(report.warnings[0], Catch::Contains("no random generator state"));
  CHECK(snapshot(model.state_dict()) == snapshot(saved.state_dict()));
  CHECK(extra.step == 7);
  // The generator keeps the state it had.
  CHECK(default_generator().state().seed == rng.seed);
  CHECK(default_generator().state().offset == rng.offset);
  // A complete checkpoint loads without warnings under the same option.
  save(path, saved);
  CHECK(load(path, model, nullptr, nullptr, {.missing_state = MissingState::kWarn}).warnings.empty());
}

TEST_CASE("a checkpoint without a data loader's state loads with a warning only when the caller opts in",
          "[checkpoint][reliability][data]") {
  ScratchDir dir;
  std::string path = dir.file("no_loader.tlckpt");
  manual_seed(8);
  Tiny saved;
  Counter counter;
  counter.position = 12;
  save(path, saved, nullptr, {.step = 3, .stateful = {&counter}});  // saved without the loader

  auto table = std::make_shared<data::TensorDataset>(randn({20, 3}), randn({20, 2}));
  data::DataLoader loader(table, {.batch_size = 4, .shuffle = true, .name = "train_loader"});
  for (auto [x, y] : loader) break;  // position 1 of epoch 0
  std::string loader_state = loader.save_state();
  Tiny model;
  auto before = snapshot(model.state_dict());
  Counter restored;
  CheckpointExtra extra{.stateful = {&restored, &loader}};
  try {
    load(path, model, nullptr, &extra);
    FAIL("a missing loader state must be refused by default");
  } catch (const ValueError& e) {
    std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("no state for Stateful 'train_loader' (it holds 'counter')"));
    CHECK_THAT(what, Catch::Contains("MissingState::kWarn"));
    CHECK_THAT(what, Catch::Contains("nothing was loaded"));
  }
  CHECK(snapshot(model.state_dict()) == before);
  CHECK(restored.position == 0);

  LoadReport report = load(path, model, nullptr, &extra, {.missing_state = MissingState::kWarn});
  REQUIRE(report.warnings.size() == 1);
  CHECK_THAT(report.warnings[0], Catch::Contains("'train_loader' keeps its current state"));
  CHECK(loader.save_state() == loader_state);
  CHECK(restored.position == 12);  // the states that are there are restored
  CHECK(extra.step == 3);
  CHECK(snapshot(model.state_dict()) == snapshot(saved.state_dict()));

  // No 'stateful' entry at all: refused as a damaged file by default, a warning when opted in.
  edit_metadata(path, [](json& meta) { meta.erase("stateful"); });
  CHECK_THAT(load_error(path, model), Catch::Contains("the metadata has no 'stateful'"));
  CheckpointExtra only_loader{.stateful = {&loader}};
  report = load(path, model, nullptr, &only_loader, {.missing_state = MissingState::kWarn});
  REQUIRE(report.warnings.size() == 1);
  CHECK_THAT(report.warnings[0], Catch::Contains("(it holds none)"));
}

// Tiny plus a float16 buffer, for check_finite on a half-precision tensor.
struct TinyHalf : Tiny {
  Tensor scale;
  TinyHalf() { scale = register_buffer("scale", from_vector<float>({1, 2, 3, 4}).to(kFloat16)); }
};

TEST_CASE("check_finite refuses NaN and Inf values naming each tensor and the first bad index",
          "[checkpoint][reliability]") {
  ScratchDir dir;
  std::string path = dir.file("non_finite.tlckpt");
  manual_seed(9);
  TinyHalf saved;
  optim::Adam opt(saved.parameters(), {.lr = 1e-2});
  train_a_little(saved, opt, 2);
  {
    NoGradGuard no_grad;
    static_cast<float*>(saved.fc.weight.data_ptr())[5] = std::nanf("");   // [1, 2] of [2, 3]
    static_cast<float*>(saved.fc.weight.data_ptr())[1] = INFINITY;        // [0, 1]
    static_cast<float*>(saved.fc.bias.data_ptr())[0] = -INFINITY;
    saved.scale.copy_(from_vector<float>({1, INFINITY, 3, 4}).to(kFloat16));
  }
  save(path, saved, &opt);

  // The format stores any value: without the option the file loads as saved.
  TinyHalf plain;
  optim::Adam plain_opt(plain.parameters(), {.lr = 1e-2});
  load(path, plain, &plain_opt);
  CHECK(std::isnan(plain.fc.weight.to_vector<float>()[5]));

  TinyHalf model;
  optim::Adam model_opt(model.parameters(), {.lr = 1e-2});
  auto before = snapshot(model.state_dict());
  try {
    load(path, model, &model_opt, nullptr, {.check_finite = true});
    FAIL("non-finite values must be refused with check_finite");
  } catch (const ValueError& e) {
    std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("check_finite: 3 tensors hold NaN or Inf"));
    CHECK_THAT(what, Catch::Contains("'model.fc.bias' has 1 of 2 non-finite values, the first -inf at [0]"));
    CHECK_THAT(what, Catch::Contains("'model.fc.weight' has 2 of 6 non-finite values, the first inf at [0, 1]"));
    CHECK_THAT(what, Catch::Contains("'model.scale' has 1 of 4 non-finite values, the first inf at [1]"));
    CHECK_THAT(what, Catch::Contains("nothing was loaded"));
    CHECK_THAT(what, Catch::Contains("checkpoint_test.cpp:"));
  }
  CHECK(snapshot(model.state_dict()) == before);
  // Finite values pass the check (integer buffers are not checked).
  TinyHalf finite;
  save(path, finite);
  CHECK_NOTHROW(load(path, model, nullptr, nullptr, {.check_finite = true}));
  CHECK(snapshot(model.state_dict()) == snapshot(finite.state_dict()));
}
