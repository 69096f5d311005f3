#include "tools/tlc/cuda_code.h"

#include <algorithm>
#include <map>

#include "runtime/base/sha256.h"
#include "runtime/base/zstd_frame.h"
#include "runtime/cuda/kernel_cache.h"
#include "runtime/cuda/kernel_image.h"
#include "runtime/program/cuda_code.h"
#include "tl/error.h"

namespace tl::tlc {

std::optional<std::vector<std::string>> parse_cuda_archs(std::string_view text, const std::vector<int>& supported,
                                                         std::string* why) {
  auto fail = [&](const std::string& reason) -> std::optional<std::vector<std::string>> {
    *why = reason;
    return std::nullopt;
  };
  if (text == "none") return std::vector<std::string>{};
  std::vector<rt::cuda::CudaArch> cubins, ptx;
  size_t at = 0;
  while (true) {
    const size_t comma = text.find(',', at);
    const std::string_view name = text.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    const std::optional<rt::cuda::CudaArch> arch = rt::cuda::parse_cuda_arch(name);
    if (!arch)
      return fail("'" + std::string(name.substr(0, 32)) +
                  "' is not a CUDA architecture: write sm_NN (a cubin, e.g. sm_90) or compute_NN (PTX, e.g. "
                  "compute_80), separated by commas, or none");
    if (!supported.empty() && std::find(supported.begin(), supported.end(), arch->number) == supported.end()) {
      std::string list;
      for (int s : supported) list += (list.empty() ? "" : ", ") + std::to_string(s);
      return fail(std::string(name) + " is not an architecture this NVRTC compiles for (it takes " + list + ")");
    }
    std::vector<rt::cuda::CudaArch>& kind = arch->is_ptx ? ptx : cubins;
    if (std::any_of(kind.begin(), kind.end(), [&](const rt::cuda::CudaArch& a) { return a.number == arch->number; }))
      return fail(std::string(name) + " is listed twice");
    kind.push_back(*arch);
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  if (ptx.empty()) {
    // PTX for the oldest GPUs named runs, compiled by the driver, on every later one too.
    rt::cuda::CudaArch lowest = *std::min_element(cubins.begin(), cubins.end(), [](const auto& a, const auto& b) {
      return a.number < b.number;
    });
    lowest.is_ptx = true;
    ptx.push_back(lowest);
  }
  std::vector<std::string> archs;
  for (const rt::cuda::CudaArch& a : cubins) archs.push_back(a.str());
  for (const rt::cuda::CudaArch& a : ptx) archs.push_back(a.str());
  return archs;
}

CudaCode compile_cuda_code(const rt::Artifact& artifact, const std::vector<std::string>& archs) {
  CudaCode out;
  artifact::Program program = artifact.program();
  // Binaries already written, by the digest of the source they were compiled from.
  std::map<std::string, artifact::CudaKernelCode> compiled;
  for (const rt::CudaGroupSources& group : rt::cuda_group_sources(artifact)) {
    ++out.groups;
    artifact::FusedSteps& steps = *program.mutable_nodes(group.node)->mutable_fused()->mutable_cuda();
    steps.clear_code();
    if (archs.empty()) continue;
    for (const rt::CudaKernelSource& kernel : group.kernels) {
      const rt::Sha256Digest d = rt::sha256(kernel.source.data(), kernel.source.size());
      const std::string digest(reinterpret_cast<const char*>(d.data()), d.size());
      auto it = compiled.find(digest);
      if (it == compiled.end()) {
        artifact::CudaKernelCode code;
        code.set_source_sha256(digest);
        const std::string name = "node " + std::to_string(group.node) + " (" + group.description + ")";
        for (const std::string& arch : archs) {
          const std::string& binary = *rt::cuda::compile_cached(kernel.source, name, arch).binary;
          if (binary.empty() || binary.size() > rt::cuda::kMaxKernelImageBytes)
            throw CompileError("tlc: the " + arch + " code of " + name + " is " + std::to_string(binary.size()) +
                               " bytes; an artifact holds images of 1 to " +
                               std::to_string(rt::cuda::kMaxKernelImageBytes) + " bytes");
          // Cubins compress about 3.4x and PTX 6x; a load decompresses only the one its GPU runs.
          const std::string frame = rt::zstd_compress(binary);
          out.section.resize((out.section.size() + 63) / 64 * 64, '\0');
          artifact::CudaImage* image = code.add_images();
          image->set_arch(arch);
          image->set_offset(out.section.size());
          image->set_size(frame.size());
          image->set_encoding(artifact::CudaImage::ZSTD);
          image->set_raw_size(binary.size());
          out.section += frame;
        }
        ++out.sources;
        it = compiled.emplace(digest, std::move(code)).first;
      }
      *steps.add_code() = it->second;
    }
  }
  out.program = program.SerializeAsString();
  return out;
}

}  // namespace tl::tlc
