// tl-runs: lists and compares the run folders that tl::Run writes (docs/runs.md).
//   tl-runs list [root]
//   tl-runs compare [root] --metric loss [--sort final|best] [--maximize] [--plot out.svg]
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "tl/run.h"

int main(int argc, char** argv) {
  CLI::App app{"List and compare Tracelight run folders"};
  app.require_subcommand(1);

  std::string list_root = "runs";
  auto* list = app.add_subcommand("list", "List the runs under a folder");
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
    }
  } catch (const std::exception& e) {
    std::cerr << "tl-runs: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
