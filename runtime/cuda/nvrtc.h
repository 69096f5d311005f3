// NVRTC, CUDA's runtime compiler, loaded with dlopen: one build of tl runs where CUDA is
// absent (is_available() is false and nothing fails at load), and compiles CUDA C to PTX or
// to a cubin for a given GPU architecture where the library is installed, GPU or not.
#pragma once

#include <string>
#include <vector>

namespace tl::rt::cuda {

struct NvrtcOutput {
  bool ok = false;
  std::string log;     // the compiler's messages (the reason, when !ok)
  std::string binary;  // PTX text, or the cubin's bytes
};

class Nvrtc {
 public:
  // The library (libnvrtc.so.13, .so.12 or .so, from the loader's path or
  // $CUDA_HOME/lib64, /usr/local/cuda/lib64), loaded on the first call; null when there is
  // none, with the reason in `*why`.
  static const Nvrtc* get(std::string* why = nullptr);

  // Compiles `source` (named `name` in messages) for `arch`: "compute_80" gives PTX, "sm_90"
  // a cubin. Options beyond the architecture: -std=c++17, the CUDA include folder, and `extra`.
  NvrtcOutput compile(const std::string& source, const std::string& name, const std::string& arch,
                      const std::vector<std::string>& extra = {}) const;
  // "13.0"
  std::string version() const;
  // The architectures this NVRTC can target, as sm numbers (80, 90, ...).
  std::vector<int> supported_archs() const;

 private:
  Nvrtc() = default;
  void* library_ = nullptr;
  std::string include_dir_;
};

}  // namespace tl::rt::cuda
