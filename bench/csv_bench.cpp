// CSV parsing throughput: tl::data::read_csv against pandas.read_csv (bench/csv_peer.py) on
// the same generated all-numeric file, one core each. Prints MB/s for both and the ratio.
//
//   csv_bench [--rows 1000000] [--cols 10] [--runs 3] [--python /usr/bin/python3]
#include <tl/tl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <time.h>
#include <unistd.h>

namespace {

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Values as a typical exported table writes them: mixed magnitudes, up to 7 significant digits.
void write_csv(const std::string& path, int64_t rows, int cols) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::string buf;
  std::ofstream out(path, std::ios::binary);
  for (int c = 0; c < cols; ++c) buf += (c ? ",f" : "f") + std::to_string(c);
  buf += '\n';
  char cell[32];
  for (int64_t r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      double v = normal(rng) * (c % 3 == 0 ? 1000.0 : c % 3 == 1 ? 1.0 : 0.001);
      int n = std::snprintf(cell, sizeof cell, c ? ",%.7g" : "%.7g", v);
      buf.append(cell, static_cast<size_t>(n));
    }
    buf += '\n';
    if (buf.size() > (1 << 20)) {
      out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
      buf.clear();
    }
  }
  out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 1000000;
  int cols = 10, runs = 3;
  std::string python = "/usr/bin/python3";  // the interpreter with pandas
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--rows") rows = std::atoll(argv[i + 1]);
    else if (a == "--cols") cols = std::atoi(argv[i + 1]);
    else if (a == "--runs") runs = std::atoi(argv[i + 1]);
    else if (a == "--python") python = argv[i + 1];
  }
  tl::set_num_threads(1);
  auto dir = std::filesystem::temp_directory_path() / ("tl_csv_bench_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "numeric.csv").string();
  write_csv(path, rows, cols);
  double mb = static_cast<double>(std::filesystem::file_size(path)) / 1e6;

  // Best of `runs`, after one warm-up read that also brings the file into the page cache.
  // MB/s uses CPU time (one thread on both sides), which a busy machine disturbs less than
  // wall time; both are printed.
  tl::data::read_csv(path);
  double best = 1e30, best_wall = 1e30;
  for (int r = 0; r < runs; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpu_seconds();
    auto ds = tl::data::read_csv(path);
    double c = cpu_seconds() - c0;
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (ds->size() != rows) return 1;
    best = std::min(best, c);
    best_wall = std::min(best_wall, s);
  }
  double tl_mbs = mb / best;
  std::printf("csv_parse tl      %7.1f MB  cpu %6.3f s  wall %6.3f s  %7.1f MB/s  (%lld rows x %d float columns)\n",
              mb, best, best_wall, tl_mbs, static_cast<long long>(rows), cols);

  std::string script = std::string(TL_BENCH_DIR) + "/csv_peer.py";
  std::string cmd = python + " " + script + " " + path + " " + std::to_string(runs);
  double pandas_s = 0, pandas_wall = 0;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    if (std::fscanf(p, "%lf %lf", &pandas_s, &pandas_wall) != 2) pandas_s = 0;
    pclose(p);
  }
  std::filesystem::remove_all(dir);
  if (pandas_s <= 0) {
    std::printf("csv_parse pandas  (not run: %s failed)\n", cmd.c_str());
    return 0;
  }
  double pandas_mbs = mb / pandas_s;
  std::printf("csv_parse pandas  %7.1f MB  cpu %6.3f s  wall %6.3f s  %7.1f MB/s  (pandas.read_csv, C engine, float32)\n",
              mb, pandas_s, pandas_wall, pandas_mbs);
  std::printf("csv_parse ratio   tl/pandas = %.2fx\n", tl_mbs / pandas_mbs);
  return 0;
}
