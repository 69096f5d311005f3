#include "runtime/logging.h"
#include "runtime/base/env.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <mutex>

namespace tl::rt {

std::shared_ptr<spdlog::logger> logger(const std::string& name) {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto existing = spdlog::get(name)) return existing;
  auto created = spdlog::stderr_color_mt(name);
  const char* level = env_value(EnvSwitch::kLogLevel);
  created->set_level(level ? spdlog::level::from_str(level) : spdlog::level::warn);
  created->set_pattern("[%n] %^%l%$: %v");
  return created;
}

}  // namespace tl::rt
