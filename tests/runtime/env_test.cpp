// The table of environment switches and docs/environment.md list the same switches, and
// every value is read through the table.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "runtime/base/env.h"

TEST_CASE("docs/environment.md lists exactly the switches tl reads", "[runtime][env]") {
  std::ifstream in(TL_SOURCE_DIR "/docs/environment.md");
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  std::string doc = text.str();
  std::set<std::string> documented;
  std::regex row(R"(\n\| `(TL_[A-Z_]+)` \|)");
  for (std::sregex_iterator it(doc.begin(), doc.end(), row), end; it != end; ++it) documented.insert((*it)[1]);
  std::set<std::string> table;
  for (const auto& s : tl::rt::env_switches()) {
    table.insert(s.name);
    CHECK(&tl::rt::env_switch_info(s.id) == &s);
  }
  CHECK(documented == table);
  CHECK(table.size() == 7);
}

TEST_CASE("a switch set to an empty value counts as unset, and 0 turns a feature off", "[runtime][env]") {
  ::setenv("TL_CODEGEN_FAIL", "", 1);
  CHECK(tl::rt::env_value(tl::rt::EnvSwitch::kCodegenFail) == nullptr);
  ::setenv("TL_CODEGEN_FAIL", "gelu", 1);
  CHECK(std::string(tl::rt::env_value(tl::rt::EnvSwitch::kCodegenFail)) == "gelu");
  ::unsetenv("TL_CODEGEN_FAIL");
  ::setenv("TL_CODEGEN", "0", 1);
  CHECK(tl::rt::env_is_zero(tl::rt::EnvSwitch::kCodegen));
  ::setenv("TL_CODEGEN", "1", 1);
  CHECK_FALSE(tl::rt::env_is_zero(tl::rt::EnvSwitch::kCodegen));
  ::unsetenv("TL_CODEGEN");
}
