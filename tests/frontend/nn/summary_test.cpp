#include <catch2/catch.hpp>

#include "tl/tl.h"

using namespace tl;

TEST_CASE("summary lists layers with their output shapes and parameter counts", "[nn][summary]") {
  manual_seed(0);
  nn::Sequential model(nn::Conv2d(1, 4, 3, {.padding = 1}), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                       nn::Linear(4 * 4 * 4, 10));
  std::string table = nn::summary(model, randn({2, 1, 8, 8}));
  INFO(table);
  CHECK_THAT(table, Catch::Contains("Conv2d"));
  CHECK_THAT(table, Catch::Contains("[2, 4, 8, 8]"));   // conv output
  CHECK_THAT(table, Catch::Contains("[2, 4, 4, 4]"));   // pool output
  CHECK_THAT(table, Catch::Contains("[2, 64]"));        // flatten output
  CHECK_THAT(table, Catch::Contains("[2, 10]"));        // final output
  CHECK_THAT(table, Catch::Contains("Total params: " + std::to_string(4 * 9 + 4 + 64 * 10 + 10)));
  CHECK_THAT(table, Catch::Contains("650"));  // the Linear's own parameters
  // The hooks are gone afterwards: a second call gives the same table.
  CHECK(nn::summary(model, randn({2, 1, 8, 8})) == table);
}

TEST_CASE("summary reports a shape error at the caller's line", "[nn][summary]") {
  nn::Sequential model(nn::Linear(4, 3));
  CHECK_THROWS_WITH(nn::summary(model, randn({2, 5})), Catch::Contains("summary_test.cpp"));
}
