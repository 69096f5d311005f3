// The table of tl's environment switches and the one place that reads them.
#include "runtime/base/env.h"

#include <cstdlib>
#include <cstring>

namespace tl::rt {
namespace {

constexpr EnvSwitchInfo kSwitches[] = {
    {EnvSwitch::kCompile, "TL_COMPILE", "0 runs every tl::compile'd function eagerly (for debugging)"},
    {EnvSwitch::kCompilerLib, "TL_COMPILER_LIB",
     "path of libtl_compiler.so to load, tried before the one beside libtl.so"},
    {EnvSwitch::kDumpIr, "TL_DUMP_IR", "folder that receives the IR before and after every pass of each compile"},
    {EnvSwitch::kCodegen, "TL_CODEGEN",
     "0 keeps every op of a compiled program on its eager kernel (no fused kernels; for bisecting)"},
    {EnvSwitch::kCodegenFail, "TL_CODEGEN_FAIL",
     "fused groups whose op list contains this text fail to compile (tests of the unfused fallback)"},
    {EnvSwitch::kCacheDir, "TL_CACHE_DIR",
     "folder of the compiled-kernel disk cache (default $XDG_CACHE_HOME/tracelight or ~/.cache/tracelight); "
     "off, or an empty value, disables it"},
    {EnvSwitch::kLogLevel, "TL_LOG_LEVEL", "debug, info, warn (default), error or off: the level of every tl logger"},
};
static_assert(std::size(kSwitches) == static_cast<size_t>(EnvSwitch::kLogLevel) + 1,
              "one table entry per EnvSwitch, in enum order");

}  // namespace

std::span<const EnvSwitchInfo> env_switches() { return kSwitches; }

const EnvSwitchInfo& env_switch_info(EnvSwitch id) { return kSwitches[static_cast<size_t>(id)]; }

const char* env_raw(EnvSwitch id) { return std::getenv(env_switch_info(id).name); }

const char* env_value(EnvSwitch id) {
  const char* value = env_raw(id);
  return value != nullptr && *value != '\0' ? value : nullptr;
}

bool env_is_zero(EnvSwitch id) {
  const char* value = env_value(id);
  return value != nullptr && std::strcmp(value, "0") == 0;
}

}  // namespace tl::rt
