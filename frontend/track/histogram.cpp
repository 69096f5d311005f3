// Run::log_histogram: value distributions (activations, gradients) as line-framed JSON.
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "tl/run.h"

namespace tl {

void Run::log_histogram(std::string_view name, const Tensor& values, int64_t step, int bins, Site site) {
  if (bins < 1) throw ValueError("tl::Run::log_histogram: bins must be >= 1, got " + std::to_string(bins) + " at " + site.str());
  std::vector<double> v;
  {
    NoGradGuard no_grad;
    v = values.to_vector<double>(site);
  }
  double lo = INFINITY, hi = -INFINITY;
  int64_t non_finite = 0;
  for (double x : v) {
    if (!std::isfinite(x)) {
      ++non_finite;
      continue;
    }
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  std::vector<int64_t> counts(static_cast<size_t>(bins), 0);
  if (lo <= hi) {
    double width = hi > lo ? (hi - lo) / bins : 1.0;
    for (double x : v) {
      if (!std::isfinite(x)) continue;
      int64_t b = static_cast<int64_t>((x - lo) / width);
      counts[static_cast<size_t>(std::clamp<int64_t>(b, 0, bins - 1))] += 1;
    }
  } else {
    lo = hi = 0;
  }
  nlohmann::json record = {{"step", step}, {"name", std::string(name)}, {"min", lo},
                           {"max", hi},    {"counts", counts},          {"non_finite", non_finite}};
  std::string line = record.dump() + "\n";
  std::string file = (path() / "histograms.jsonl").string();
  // One write of a whole line with O_APPEND: a crash leaves at most a torn last line.
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError("tl::Run::log_histogram: cannot open " + file + " at " + site.str());
  ssize_t written = ::write(fd, line.data(), line.size());
  ::close(fd);
  if (written != static_cast<ssize_t>(line.size())) {
    throw IoError("tl::Run::log_histogram: short write to " + file + " at " + site.str());
  }
}

}  // namespace tl
