// Every environment switch tl reads, read in one place: the table in env.cpp names each one
// and says what it does, docs/environment.md lists them (a test checks the two agree), and
// library code asks for a switch by its enumerator, never by spelling its name.
#pragma once

#include <span>

namespace tl::rt {

enum class EnvSwitch {
  kCompile,       // TL_COMPILE
  kCompilerLib,   // TL_COMPILER_LIB
  kDumpIr,        // TL_DUMP_IR
  kCodegen,       // TL_CODEGEN
  kCodegenFail,   // TL_CODEGEN_FAIL
  kCacheDir,      // TL_CACHE_DIR
  kLogLevel,      // TL_LOG_LEVEL
};

struct EnvSwitchInfo {
  EnvSwitch id;
  const char* name;     // "TL_COMPILE"
  const char* meaning;  // one line for the docs and for error messages
};

// The table of every switch, in the order of the enum.
std::span<const EnvSwitchInfo> env_switches();
const EnvSwitchInfo& env_switch_info(EnvSwitch id);
// The switch's value, or nullptr when it is unset. An empty value counts as unset.
const char* env_value(EnvSwitch id);
// The value as set, empty included; nullptr only when unset (TL_CACHE_DIR= turns the cache off).
const char* env_raw(EnvSwitch id);
// True when the switch is set to exactly "0" (the switches that turn a feature off).
bool env_is_zero(EnvSwitch id);

}  // namespace tl::rt
