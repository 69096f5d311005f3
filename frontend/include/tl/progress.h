// Training progress on stdout: a redrawn bar (metric, throughput, ETA) when stdout is a
// terminal, plain periodic lines otherwise (logs, CI).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>

namespace tl {

struct ProgressOptions {
  std::string label = "train";
  std::string metric = "loss";    // the name shown beside the value
  double redraw_interval_s = 0.1;  // terminal redraw rate limit
  double line_interval_s = 10.0;   // not a terminal: a line at least this often...
  int line_percent = 10;           // ...and at each multiple of this percent of `total`
  std::FILE* out = stdout;
};

class ProgressBar {
 public:
  // `total` steps (0 when unknown: no bar and no ETA). `value` supplies the metric shown
  // when a line is drawn (read at most once per redraw).
  explicit ProgressBar(int64_t total, ProgressOptions options = {},
                       std::function<std::optional<double>()> value = {});
  ProgressBar(ProgressBar&& other) noexcept;
  ~ProgressBar();  // finish()

  // Advances by `steps`; draws when a redraw is due. Cheap when none is.
  void update(int64_t steps = 1);
  // Advances and shows `value` as the metric.
  void update(int64_t steps, double value);
  // Draws the final state and ends the line. Idempotent.
  void finish();

  int64_t done() const { return done_; }
  // The line that would be drawn now, without the terminal control characters.
  std::string line() const;

 private:
  void draw(bool final);

  int64_t total_ = 0, done_ = 0, drawn_done_ = -1;
  ProgressOptions options_;
  std::function<std::optional<double>()> value_fn_;
  std::optional<double> value_;
  bool is_tty_ = false, finished_ = false;
  int last_percent_step_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace tl
