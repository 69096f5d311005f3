// The NVRTC entry points tl uses, looked up by name; the declarations mirror nvrtc.h so that
// building tl needs no CUDA header.
#include "runtime/cuda/nvrtc.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdlib>
#include <mutex>

namespace tl::rt::cuda {

namespace {

using nvrtcProgram = struct _nvrtcProgram*;
using nvrtcResult = int;  // NVRTC_SUCCESS is 0
using VersionFn = nvrtcResult (*)(int*, int*);
using CreateFn = nvrtcResult (*)(nvrtcProgram*, const char*, const char*, int, const char* const*, const char* const*);
using DestroyFn = nvrtcResult (*)(nvrtcProgram*);
using CompileFn = nvrtcResult (*)(nvrtcProgram, int, const char* const*);
using SizeFn = nvrtcResult (*)(nvrtcProgram, size_t*);
using GetFn = nvrtcResult (*)(nvrtcProgram, char*);
using NumArchsFn = nvrtcResult (*)(int*);
using ArchsFn = nvrtcResult (*)(int*);

template <class F>
F symbol(void* library, const char* name) {
  return reinterpret_cast<F>(::dlsym(library, name));
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

const Nvrtc* Nvrtc::get(std::string* why) {
  static std::string reason;
  static const Nvrtc* instance = [] () -> const Nvrtc* {
    std::vector<std::string> candidates{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
    std::vector<std::string> roots;
    if (const char* home = std::getenv("CUDA_HOME")) roots.push_back(home);
    roots.push_back("/usr/local/cuda");
    for (const std::string& root : roots)
      for (const char* lib : {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"}) candidates.push_back(root + "/lib64/" + lib);
    void* library = nullptr;
    for (const std::string& c : candidates)
      if ((library = ::dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
    if (library == nullptr) {
      reason = "no NVRTC library (libnvrtc.so.13) on the loader's path or under $CUDA_HOME/lib64 or /usr/local/cuda/lib64";
      return nullptr;
    }
    for (const char* name : {"nvrtcVersion", "nvrtcCreateProgram", "nvrtcDestroyProgram", "nvrtcCompileProgram",
                             "nvrtcGetPTXSize", "nvrtcGetPTX", "nvrtcGetCUBINSize", "nvrtcGetCUBIN",
                             "nvrtcGetProgramLogSize", "nvrtcGetProgramLog"}) {
      if (::dlsym(library, name) == nullptr) {
        reason = std::string("the NVRTC library lacks ") + name;
        return nullptr;
      }
    }
    auto* n = new Nvrtc();  // lives for the process: compiled code may outlive any owner
    n->library_ = library;
    for (const std::string& root : roots)
      if (n->include_dir_.empty() && is_dir(root + "/include")) n->include_dir_ = root + "/include";
    return n;
  }();
  if (instance == nullptr && why != nullptr) *why = reason;
  return instance;
}

std::string Nvrtc::version() const {
  int major = 0, minor = 0;
  symbol<VersionFn>(library_, "nvrtcVersion")(&major, &minor);
  return std::to_string(major) + "." + std::to_string(minor);
}

std::vector<int> Nvrtc::supported_archs() const {
  auto count_fn = symbol<NumArchsFn>(library_, "nvrtcGetNumSupportedArchs");
  auto archs_fn = symbol<ArchsFn>(library_, "nvrtcGetSupportedArchs");
  int count = 0;
  if (count_fn == nullptr || archs_fn == nullptr || count_fn(&count) != 0 || count <= 0) return {};
  std::vector<int> archs(static_cast<size_t>(count));
  if (archs_fn(archs.data()) != 0) return {};
  return archs;
}

NvrtcOutput Nvrtc::compile(const std::string& source, const std::string& name, const std::string& arch,
                           const std::vector<std::string>& extra) const {
  NvrtcOutput out;
  nvrtcProgram program = nullptr;
  if (symbol<CreateFn>(library_, "nvrtcCreateProgram")(&program, source.c_str(), name.c_str(), 0, nullptr, nullptr) != 0) {
    out.log = "nvrtcCreateProgram failed";
    return out;
  }
  // IEEE division and square roots (NVRTC's default; no fast math), as the CPU kernels.
  std::vector<std::string> options{"--gpu-architecture=" + arch, "-std=c++17"};
  if (!include_dir_.empty()) options.push_back("--include-path=" + include_dir_);
  options.insert(options.end(), extra.begin(), extra.end());
  std::vector<const char*> argv;
  for (const std::string& o : options) argv.push_back(o.c_str());
  const nvrtcResult compiled =
      symbol<CompileFn>(library_, "nvrtcCompileProgram")(program, static_cast<int>(argv.size()), argv.data());
  size_t log_size = 0;
  if (symbol<SizeFn>(library_, "nvrtcGetProgramLogSize")(program, &log_size) == 0 && log_size > 1) {
    out.log.resize(log_size);
    symbol<GetFn>(library_, "nvrtcGetProgramLog")(program, out.log.data());
    out.log.resize(log_size - 1);
  }
  if (compiled == 0) {
    const bool ptx = arch.rfind("compute_", 0) == 0;
    size_t size = 0;
    if (symbol<SizeFn>(library_, ptx ? "nvrtcGetPTXSize" : "nvrtcGetCUBINSize")(program, &size) == 0) {
      out.binary.resize(size);
      out.ok = symbol<GetFn>(library_, ptx ? "nvrtcGetPTX" : "nvrtcGetCUBIN")(program, out.binary.data()) == 0;
    }
  }
  symbol<DestroyFn>(library_, "nvrtcDestroyProgram")(&program);
  return out;
}

}  // namespace tl::rt::cuda
