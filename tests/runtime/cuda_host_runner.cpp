#include "tests/runtime/cuda_host_runner.h"

#include <dlfcn.h>
#include <unistd.h>

#include <barrier>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "runtime/base/sha256.h"

#include "tests/runtime/cuda_host_kernels.h"
#include "tests/runtime/cuda_host_shim.h"
#include "tl/error.h"

namespace tl::test {

void* HostKernelRunner::function(const std::string& source, const std::string& entry, const std::string&) {
  for (const HostOpKernel& k : host_op_kernels()) {
    if (entry != k.entry) continue;
    // The source asked for must be the one the host build compiled (its preamble before it).
    const std::string body = k.source;
    // Another source under the same entry (an elementwise op with other attributes) is
    // compiled at run time below.
    if (source.size() < body.size() || source.compare(source.size() - body.size(), body.size(), body) != 0) break;
    return const_cast<HostOpKernel*>(&k);
  }
  // A source made at run time (a compiled program's fused group): compiled for the host now.
  return jit_compile(source, entry);
}

std::string HostKernelRunner::device_arch() const {
  std::lock_guard<std::mutex> lock(images_mutex_);
  return device_arch_;
}

void HostKernelRunner::set_device_arch(std::string arch) {
  std::lock_guard<std::mutex> lock(images_mutex_);
  device_arch_ = std::move(arch);
}

void* HostKernelRunner::function_from_images(const std::string& source, const std::string& entry,
                                             const std::string& label, std::span<const rt::cuda::KernelImage> images) {
  {
    std::lock_guard<std::mutex> lock(images_mutex_);
    for (const rt::cuda::KernelImage& image : images) given_images_.push_back({image.arch, std::string(image.bytes)});
  }
  return function(source, entry, label);
}

std::vector<HostKernelRunner::GivenImage> HostKernelRunner::given_images() const {
  std::lock_guard<std::mutex> lock(images_mutex_);
  return given_images_;
}

namespace {

// Kernels compiled at run time, kept for the process (their libraries stay loaded).
struct JitKernels {
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<HostOpKernel>> by_key;
  std::vector<std::string> sources;  // what the kernels' `source` pointers point into
};

JitKernels& jit_kernels() {
  static auto* k = new JitKernels();
  return *k;
}

}  // namespace

void* HostKernelRunner::jit_compile(const std::string& source, const std::string& entry) {
  JitKernels& jit = jit_kernels();
  std::lock_guard<std::mutex> lock(jit.mutex);
  // The key covers the entry's calling convention too (the "2"): a library from an older
  // test build in the temp folder is not loaded.
  const std::string key = rt::to_hex(rt::sha256(source.data(), source.size())) + "_" + entry + "_2";
  if (auto it = jit.by_key.find(key); it != jit.by_key.end()) return it->second.get();
  // The source without CUDA's half headers (the shim has the types), with a cuLaunchKernel-style
  // entry point the runner calls.
  std::string host;
  size_t start = 0;
  for (size_t end; start < source.size(); start = end + 1) {
    end = source.find('\n', start);
    if (end == std::string::npos) end = source.size();
    const std::string line = source.substr(start, end - start);
    if (line.rfind("#include <cuda_", 0) != 0) host += line + "\n";
  }
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("tl_host_cuda_" + std::to_string(::getuid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path cpp = dir / (key + ".cpp"), so = dir / (key + ".so");
  if (!std::filesystem::exists(so)) {
    std::ofstream(cpp) << "#include <cstring>\n#include <tuple>\n#include <utility>\n"
                       << "#include \"tests/runtime/cuda_host_shim.h\"\n"
                       << host
                       << "template <class... P, size_t... I>\n"
                          "static void tl_jit_invoke(void (*f)(P...), void** args, std::index_sequence<I...>) {\n"
                          "  std::tuple<std::remove_cv_t<P>...> values;\n"
                          "  ((std::memcpy(&std::get<I>(values), args[I], sizeof(P))), ...);\n"
                          "  std::apply(f, values);\n}\n"
                          "template <class... P>\n"
                          "static void tl_jit_call(void (*f)(P...), void** args) {\n"
                          "  tl_jit_invoke(f, args, std::index_sequence_for<P...>{});\n}\n"
                       << "extern \"C\" void tl_host_entry(void** args, const TlHostThread& thread) {\n"
                       << "  tl_host_set_thread(thread);\n  tl_jit_call(&" << entry << ", args);\n}\n";
    const std::filesystem::path tmp = dir / (key + "." + std::to_string(::getpid()) + ".so");
    const std::string command = std::string(TL_HOST_CXX) + " -std=c++20 -O1 -w -shared -fPIC -I" + TL_SOURCE_DIR +
                                " -I" + TL_SOURCE_DIR + "/runtime/include " + cpp.string() + " -o " + tmp.string() +
                                " 2>" + (dir / (key + ".log")).string();
    if (std::system(command.c_str()) != 0) {
      std::ifstream log(dir / (key + ".log"));
      std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
      throw Error("tl test: the host compiler refused CUDA kernel " + entry + ":\n" + text.substr(0, 4000));
    }
    std::filesystem::rename(tmp, so);
  }
  void* library = ::dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) throw Error(std::string("tl test: cannot load ") + so.string() + ": " + ::dlerror());
  auto* call = reinterpret_cast<void (*)(void**, const TlHostThread&)>(::dlsym(library, "tl_host_entry"));
  if (call == nullptr) throw Error("tl test: " + so.string() + " lacks its entry");
  jit.sources.push_back(source);
  auto kernel = std::make_unique<HostOpKernel>(HostOpKernel{nullptr, nullptr, nullptr, call});
  HostOpKernel* result = kernel.get();
  jit.by_key[key] = std::move(kernel);
  ++jit_compiles_;
  return result;
}

class HostKernelRunner::HostGraph : public Graph {
 public:
  HostGraph(HostKernelRunner& runner, std::vector<Recorded> launches) : runner_(runner), launches_(std::move(launches)) {}
  void launch(void*) override {
    ++runner_.graph_launches_;
    for (Recorded& r : launches_) runner_.run(r.function, r.shape, r.args);
  }

 private:
  HostKernelRunner& runner_;
  std::vector<Recorded> launches_;
};

void HostKernelRunner::begin_capture(void*) {
  if (capturing_) throw DeviceError("tl test: the host runner captures one stream at a time");
  capturing_ = true;
  capturing_thread_ = std::this_thread::get_id();
  recording_.clear();
}

std::unique_ptr<rt::cuda::KernelRunner::Graph> HostKernelRunner::end_capture(void*) {
  if (!capturing_) throw DeviceError("tl test: end_capture without begin_capture");
  capturing_ = false;
  ++captures_;
  return std::make_unique<HostGraph>(*this, std::move(recording_));
}

void HostKernelRunner::abort_capture(void*) {
  capturing_ = false;
  recording_.clear();
}

bool HostKernelRunner::capturing() const { return capturing_ && capturing_thread_ == std::this_thread::get_id(); }

void HostKernelRunner::launch(void* function, const rt::cuda::LaunchShape& shape, rt::cuda::KernelArgs& args) {
  if (capturing()) {
    recording_.push_back({function, shape, args});  // a copy of the arguments' values
    return;
  }
  run(function, shape, args);
}

void HostKernelRunner::run(void* function, const rt::cuda::LaunchShape& shape, rt::cuda::KernelArgs& args) {
  const auto* kernel = static_cast<const HostOpKernel*>(function);
  const unsigned threads = shape.block.x * shape.block.y * shape.block.z;
  if (threads == 0 || threads > 1024) throw Error("tl test: a CUDA block of " + std::to_string(threads) + " threads");
  ++launches_;
  void** params = args.pointers().data();
  for (unsigned bz = 0; bz < shape.grid.z; ++bz) {
    for (unsigned by = 0; by < shape.grid.y; ++by) {
      for (unsigned bx = 0; bx < shape.grid.x; ++bx) {
        std::barrier<> barrier(threads);
        std::vector<std::thread> block;
        block.reserve(threads);
        for (unsigned t = 0; t < threads; ++t) {
          block.emplace_back([&, t] {
            const TlHostThread thread{
                {bx, by, bz},
                {t % shape.block.x, t / shape.block.x % shape.block.y, t / (shape.block.x * shape.block.y)},
                {shape.block.x, shape.block.y, shape.block.z},
                {shape.grid.x, shape.grid.y, shape.grid.z},
                &barrier};
            if (kernel->invoke_in_library != nullptr) {
              kernel->invoke_in_library(params, thread);
            } else {
              tl_host_set_thread(thread);
              kernel->invoke(params);
            }
          });
        }
        for (std::thread& th : block) th.join();
      }
    }
  }
}

HostCudaKernels::HostCudaKernels() {
  rt::cuda::install_op_kernels();
  rt::cuda::set_runner(&runner_);
  constexpr int cpu = static_cast<int>(DeviceType::kCPU), cuda = static_cast<int>(DeviceType::kCUDA);
  for (const std::string& name : rt::cuda::ops_with_cuda_kernels()) {
    ops::extend_op(name.c_str(), [&](ops::OpDef& def) {
      saved_.emplace_back(name, def.kernels[cpu]);
      def.kernels[cpu] = def.kernels[cuda];
    });
  }
}

HostCudaKernels::~HostCudaKernels() {
  constexpr int cpu = static_cast<int>(DeviceType::kCPU);
  for (const auto& [name, kernel] : saved_) {
    ops::KernelFn k = kernel;
    ops::extend_op(name.c_str(), [k](ops::OpDef& def) { def.kernels[cpu] = k; });
  }
  rt::cuda::set_runner(nullptr);
}

}  // namespace tl::test
