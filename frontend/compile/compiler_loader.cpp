#include "frontend/compile/compiler_loader.h"
#include "runtime/base/env.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

namespace tl::compiler {
namespace {
// Folder holding libtl itself: an installed libtl_compiler.so sits next to it.
std::string own_folder() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&own_folder), &info) == 0 || info.dli_fname == nullptr) return {};
  return std::filesystem::path(info.dli_fname).parent_path().string();
}
}  // namespace

RunPipelineFn load(std::string& why) {
  static std::once_flag once;
  static RunPipelineFn fn = nullptr;
  static std::string error;
  std::call_once(once, [] {
    std::vector<std::string> candidates;
    if (const char* env = rt::env_value(rt::EnvSwitch::kCompilerLib)) candidates.push_back(env);
    if (std::string dir = own_folder(); !dir.empty()) candidates.push_back(dir + "/libtl_compiler.so");
#ifdef TL_COMPILER_BUILD_PATH
    candidates.push_back(TL_COMPILER_BUILD_PATH);
#endif
    for (const std::string& path : candidates) {
      if (!std::filesystem::exists(path)) continue;
      void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) {
        error += std::string(dlerror()) + "; ";
        continue;
      }
      auto stamp = reinterpret_cast<AbiStampFn>(dlsym(handle, kAbiStampSymbol));
      if (!stamp || stamp() != kAbiStamp) {
        error += path + " was built from different sources than libtl (rebuild both); ";
        dlclose(handle);
        continue;
      }
      fn = reinterpret_cast<RunPipelineFn>(dlsym(handle, kRunPipelineSymbol));
      if (fn) return;
      error += path + " has no " + kRunPipelineSymbol + "; ";
    }
    if (error.empty()) error = "libtl_compiler.so was not found (set TL_COMPILER_LIB to its path)";
  });
  why = error;
  return fn;
}

}  // namespace tl::compiler
