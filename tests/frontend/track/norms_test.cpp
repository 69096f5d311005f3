#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "track_test_util.h"
#include "tl/tl.h"

using namespace tl;

TEST_CASE("log_norms records gradient and parameter norms in one call", "[track][norms]") {
  test::ScratchDir dir;
  nn::Linear layer(2, 1);
  {
    NoGradGuard no_grad;
    layer.weight.copy_(from_vector<float>({3, 4}, {1, 2}));
    layer.bias.copy_(from_vector<float>({12}, {1}));
  }
  Tensor x = from_vector<float>({1, 2}, {1, 2});
  layer(x).sum().backward();  // d/dw = x = [1, 2], d/db = 1
  Run run("norms", {}, {.root = dir.path, .print_summary = false});
  run.log_norms(layer, true);
  run.flush();
  auto file = read_metrics(run.path() / "metrics.jsonl");
  std::map<std::string, double> seen;
  for (const auto& r : file.records) seen[r.name] = r.value;
  CHECK(seen.at("param_norm") == Approx(13.0));            // sqrt(9 + 16 + 144)
  CHECK(seen.at("grad_norm") == Approx(std::sqrt(6.0)));   // sqrt(1 + 4 + 1)
  CHECK(seen.at("param_norm/weight") == Approx(5.0));
  CHECK(seen.at("grad_norm/bias") == Approx(1.0));
}

TEST_CASE("log_histogram appends bin counts of a tensor's values", "[track][histogram]") {
  test::ScratchDir dir;
  Run run("hist", {}, {.root = dir.path, .print_summary = false});
  run.log_histogram("act", from_vector<float>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, NAN}), 3, 5);
  run.log_histogram("act", from_vector<float>({1, 1}), 4, 2);
  std::string text = test::read_text(run.path() / "histograms.jsonl");
  auto first = text.substr(0, text.find('\n'));
  CHECK_THAT(first, Catch::Contains("\"counts\":[2,2,2,2,2]"));
  CHECK_THAT(first, Catch::Contains("\"non_finite\":1"));
  CHECK_THAT(first, Catch::Contains("\"step\":3"));
  CHECK_THAT(text.substr(text.find('\n') + 1), Catch::Contains("\"counts\":[2,0]"));
  CHECK_THROWS_AS(run.log_histogram("act", ones({2}), 5, 0), ValueError);
}
