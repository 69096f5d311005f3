// tl-runs: lists and compares the run folders that tl::Run writes (docs/runs.md).
//   tl-runs list [root]          status: running, finished, or crashed (killed while running)
//   tl-runs compare [root] --metric loss [--sort final|best] [--maximize] [--plot out.svg]
//   tl-runs histograms <run> [name] [--last] [--steps N] [--svg]
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "tl/run.h"

int main(int argc, char** argv) {
  CLI::App app{"List and compare Tracelight run folders"};
  app.require_subcommand(1);

  std::string list_root = "runs";
  auto* list = app.add_subcommand(
      "list", "List the runs under a folder: name/id, status (running, finished, crashed) and config");
  list->add_option("root", list_root, "Runs folder (default: runs)");

  std::string compare_root = "runs";
  tl::CompareOptions options;
  auto* compare = app.add_subcommand(
      "compare", "Compare runs: differing config keys and final/best metric values, in one table");
  compare->add_option("root", compare_root, "Runs folder (default: runs)");
  compare->add_option("--metric", options.metric, "Metric to compare (default: loss)");
  compare->add_option("--sort", options.sort, "Sort by the final or the best value")
      ->check(CLI::IsMember({"final", "best"}));
  compare->add_flag("--maximize", options.maximize, "Larger values are better");
  compare->add_option("--plot", options.plot, "Write an SVG of the metric across runs");

  std::string histograms_run;
  tl::HistogramViewOptions view;
  bool svg = false;
  auto* histograms = app.add_subcommand(
      "histograms", "Show a run's histograms (Run::log_histogram): one line per logged step, or the last one's bins");
  histograms->add_option("run", histograms_run, "Run folder")->required();
  histograms->add_option("name", view.name, "Only this histogram (default: all)");
  histograms->add_flag("--last", view.last_only, "Only the last step, one bar per bin");
  histograms->add_option("--steps", view.max_steps, "At most this many latest steps per histogram (default: all)")
      ->check(CLI::NonNegativeNumber);
  histograms->add_flag("--svg", svg, "Also write <run>/histograms/<name>.svg of each last histogram");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*list) {
      auto runs = tl::list_runs(list_root);
      if (runs.empty()) std::cout << "no runs under " << list_root << "\n";
      for (auto& run : runs) {
        std::string config;
        for (auto& [key, value] : run.config) config += (config.empty() ? "" : " ") + key + "=" + value.str();
        std::printf("%-40s %-9s %s\n", (run.name + "/" + run.id).c_str(), run.status.c_str(), config.c_str());
      }
    } else if (*compare) {
      std::cout << tl::compare_runs(compare_root, options);
      if (!options.plot.empty()) std::cout << "plot: " << options.plot.string() << "\n";
    } else if (*histograms) {
      std::cout << tl::show_histograms(histograms_run, view);
      if (svg)
        for (const auto& path : tl::write_histogram_plots(histograms_run)) std::cout << "plot: " << path.string() << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "tl-runs: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
