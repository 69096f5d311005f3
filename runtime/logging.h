// Named loggers, one per subsystem ("tl.runtime", "tl.autograd", "tl.data"), through spdlog.
// Internal header: spdlog never reaches a public header. TL_LOG_LEVEL=debug|info|warn|error|off
// sets the level at start-up (default: warn).
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace tl::rt {

std::shared_ptr<spdlog::logger> logger(const std::string& name);

}  // namespace tl::rt
