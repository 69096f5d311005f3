// Writes the seed corpora of the fuzz targets: real files written by tl itself (checkpoints,
// .npy files, a run folder), hand-written CSV texts, and the cases of the lit tests in
// tests/ir. The output is committed under tests/fuzz/corpus/; rerun after a format change:
//   fuzz_make_corpus tests/fuzz/corpus tests/ir
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"
#include "tl/tl.h"

namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  tl::fuzz::write_file(path, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

// The fixture fuzz_checkpoint loads into: the same architecture, trained one step so that
// Adam has moments.
void checkpoints(const fs::path& out) {
  fs::create_directories(out);
  tl::manual_seed(1);
  tl::nn::Sequential model(tl::nn::Linear(4, 3), tl::nn::ReLU(), tl::nn::Linear(3, 2));
  tl::optim::Adam opt(model.parameters(), tl::optim::AdamOptions{.lr = 1e-2});
  tl::save((out / "untrained_model_only.tlckpt").string(), model);
  auto x = tl::randn({5, 4}), y = tl::randn({5, 2});
  auto loss = tl::nn::mse_loss(model(x), y);
  opt.zero_grad();
  loss.backward();
  opt.step();
  tl::save((out / "trained_with_adam.tlckpt").string(), model, &opt,
           tl::CheckpointExtra{.step = 7, .epoch = 1, .metadata = {{"run", "seed"}}});
}

void npy_files(const fs::path& out) {
  fs::create_directories(out);
  tl::manual_seed(2);
  tl::save_npy((out / "f32_2x3.npy").string(), tl::randn({2, 3}));
  tl::save_npy((out / "f64_4.npy").string(), tl::randn({4}).to(tl::kFloat64));
  tl::save_npy((out / "f16_2.npy").string(), tl::randn({2}).to(tl::kFloat16));
  tl::save_npy((out / "i64_2x2.npy").string(), tl::from_vector<int64_t>({1, -2, 3, -4}, {2, 2}));
  tl::save_npy((out / "i32_scalar.npy").string(), tl::from_vector<int32_t>({42}, {}));
  tl::save_npy((out / "bool_3.npy").string(), tl::from_vector<float>({1, 0, 1}, {3}).to(tl::kBool));
  tl::save_npy((out / "f32_empty_0x3.npy").string(), tl::randn({0, 3}));
  tl::save_npy((out / "f32_transposed.npy").string(), tl::randn({3, 2}).mT());
  // Fortran order, as NumPy writes np.asfortranarray(a): header padded to a 64-byte boundary.
  std::string header = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string file = std::string("\x93NUMPY\x01\x00", 8) + char(header.size() & 0xff) + char(header.size() >> 8) + header;
  const float values[4] = {1, 3, 2, 4};
  file.append(reinterpret_cast<const char*>(values), sizeof values);
  write_text(out / "f32_fortran_2x2.npy", file);
}

// The first byte is fuzz_csv's option flags (see fuzz_csv.cpp).
void csv_texts(const fs::path& out) {
  write_text(out / "numeric_target.csv", std::string("\x04") + "a,b,y\n1,2,3\n4.5,-5e3,6\n");
  write_text(out / "features_only.csv", std::string("\x00", 1) + "a,b\n1,2\n3,4\n");
  write_text(out / "classes_categorical.csv", std::string("\x14") + "a,c,y\n1,red,cat\n2,blue,dog\n3,red,cat\n");
  write_text(out / "semicolon_missing_nan.csv", std::string("\x03") + "a;b\n1;\n;2\n");
  write_text(out / "bom_crlf_quoted.csv", std::string("\x04") + "\xEF\xBB\xBF" "a,\"b\",y\r\n1,\"2\",3\r\n\"4\",5,6");
  write_text(out / "quoted_newline_first_appearance.csv", std::string("\x4c") + "a,y\n1,\"x\ny\"\n2,\"a\"\"b\"\n");
  write_text(out / "small_field_limit.csv", std::string("\x24") + "a,y\n1234567890123456789,1\n");
}

// A real run folder (config, meta, metrics, histograms) joined with NUL bytes in
// fuzz_run_files' order; the same with a torn metrics record; config.json alone.
void run_folder(const fs::path& out) {
  const fs::path root = tl::fuzz::scratch_dir() / "runs";
  fs::path path;
  {
    tl::Run run("seed", {{"lr", 0.01}, {"width", 16}, {"opt", "adam"}, {"shuffle", true}},
                tl::RunOptions{.root = root, .print_summary = false});
    for (int step = 0; step < 4; ++step) run.log("loss", 1.0 / (step + 1));
    run.log("accuracy", 0.5, 2);
    run.log("loss_nan", std::nan(""));
    run.log_histogram("weights", tl::from_vector<float>({-1, 0, 0.5, 2, 7}, {5}), 3, 4);
    run.close();
    path = run.path();
  }
  const char* const files[] = {"config.json", "meta.json", "metrics.jsonl", "histograms.jsonl"};
  std::string joined;
  for (const char* name : files) {
    if (!joined.empty()) joined += '\0';
    joined += tl::fuzz::read_file(path / name);
  }
  write_text(out / "finished_run", joined);
  // The same folder with a metrics record torn off mid-write.
  std::string torn;
  for (const char* name : files) {
    if (!torn.empty()) torn += '\0';
    std::string text = tl::fuzz::read_file(path / name);
    if (std::string(name) == "metrics.jsonl") text += "{\"step\": 9, \"name\": \"lo";
    torn += text;
  }
  write_text(out / "torn_metrics_record", torn);
  write_text(out / "config_only", tl::fuzz::read_file(path / "config.json"));
}

// Each case of the lit tests (files split at "// -----"), without RUN and CHECK lines.
void ir_cases(const fs::path& lit_dir, const fs::path& out) {
  fs::create_directories(out);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(lit_dir)) {
    if (e.path().extension() == ".mlir" && e.path().stem() != "nesting_limit") files.push_back(e.path());
  }
  for (const auto& file : files) {
    std::ifstream in(file);
    std::string line, chunk;
    int index = 0;
    auto flush = [&] {
      if (chunk.find_first_not_of(" \n") != std::string::npos)
        write_text(out / (file.stem().string() + "_" + std::to_string(index++) + ".mlir"), chunk);
      chunk.clear();
    };
    while (std::getline(in, line)) {
      if (line.rfind("// -----", 0) == 0) {
        flush();
      } else if (line.rfind("//", 0) != 0) {
        chunk += line + "\n";
      }
    }
    flush();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR LIT_TEST_DIR\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  checkpoints(out / "checkpoint");
  npy_files(out / "npy");
  csv_texts(out / "csv");
  run_folder(out / "run_files");
  ir_cases(argv[2], out / "ir");
  return 0;
}
