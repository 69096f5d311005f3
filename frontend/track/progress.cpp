// ProgressBar: a redrawn line on terminals, periodic plain lines elsewhere.
#include <unistd.h>

#include <fmt/format.h>

#include <cmath>

#include "tl/progress.h"

namespace tl {
namespace {

std::string duration(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--";
  long t = std::lround(s);
  if (t >= 3600) return fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60);
  return fmt::format("{:02}:{:02}", t / 60, t % 60);
}

}  // namespace

ProgressBar::ProgressBar(int64_t total, ProgressOptions options,
                         std::function<std::optional<double>()> value)
    : total_(std::max<int64_t>(total, 0)),
      options_(std::move(options)),
      value_fn_(std::move(value)),
      is_tty_(options_.out && ::isatty(::fileno(options_.out))),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::ProgressBar(ProgressBar&& other) noexcept
    : total_(other.total_),
      done_(other.done_),
      drawn_done_(other.drawn_done_),
      options_(std::move(other.options_)),
      value_fn_(std::move(other.value_fn_)),
      value_(other.value_),
      is_tty_(other.is_tty_),
      finished_(other.finished_),
      last_percent_step_(other.last_percent_step_),
      start_(other.start_),
      last_draw_(other.last_draw_) {
  other.finished_ = true;  // the moved-from bar draws nothing
}

ProgressBar::~ProgressBar() {
  if (options_.out) finish();
}

void ProgressBar::update(int64_t steps) {
  done_ += steps;
  if (finished_ || !options_.out) return;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  bool due = false;
  if (is_tty_) {
    due = since >= options_.redraw_interval_s;
  } else {
    due = since >= options_.line_interval_s;
    if (total_ > 0 && options_.line_percent > 0) {
      int percent_step = int(done_ * 100 / total_ / options_.line_percent);
      if (percent_step > last_percent_step_) {
        last_percent_step_ = percent_step;
        due = true;
      }
    }
  }
  if (due) draw(false);
}

void ProgressBar::update(int64_t steps, double value) {
  value_ = value;
  update(steps);
}

std::string ProgressBar::line() const {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? double(done_) / elapsed : 0;
  std::string out = options_.label + " ";
  if (total_ > 0) {
    constexpr int kWidth = 24;
    int filled = int(std::min<int64_t>(done_, total_) * kWidth / total_);
    out += fmt::format("[{}{}] {}/{} {:3d}%", std::string(size_t(filled), '#'),
                       std::string(size_t(kWidth - filled), '.'), done_, total_,
                       int(std::min<int64_t>(done_, total_) * 100 / total_));
  } else {
    out += fmt::format("{}", done_);
  }
  if (value_) out += fmt::format("  {} {:.5g}", options_.metric, *value_);
  out += fmt::format("  {:.1f} it/s  elapsed {}", rate, duration(elapsed));
  if (total_ > 0 && done_ < total_) out += "  ETA " + duration(rate > 0 ? double(total_ - done_) / rate : NAN);
  return out;
}

void ProgressBar::draw(bool final) {
  last_draw_ = std::chrono::steady_clock::now();
  if (value_fn_) {
    if (auto v = value_fn_()) value_ = v;
  }
  std::string text = line();
  drawn_done_ = done_;
  // "\r" and clear-to-end-of-line redraw in place; plain output gets one line per draw.
  if (is_tty_) fmt::print(options_.out, "\r{}\x1b[K{}", text, final ? "\n" : "");
  else fmt::print(options_.out, "{}\n", text);
  std::fflush(options_.out);
}

void ProgressBar::finish() {
  if (finished_ || !options_.out) return;
  finished_ = true;
  // A plain line for this very state was printed already (the 100% line, typically).
  if (!is_tty_ && drawn_done_ == done_) return;
  draw(true);
}

}  // namespace tl
