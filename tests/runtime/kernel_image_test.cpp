// The choice between an artifact's prebuilt CUDA binaries (runtime/cuda/kernel_image.h): which
// image a GPU of each architecture runs, and which architecture names are accepted.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "runtime/cuda/kernel_image.h"

using tl::rt::cuda::choose_image;
using tl::rt::cuda::parse_cuda_arch;

TEST_CASE("a GPU runs the cubin of its architecture, else PTX it can compile, else the source", "[cuda][artifact]") {
  const std::vector<std::string> images{"sm_80", "sm_90", "compute_80"};
  CHECK(choose_image(images, "sm_90") == 1);
  CHECK(choose_image(images, "sm_80") == 0);
  // Same major version, later minor: sm_80 code runs there.
  CHECK(choose_image(images, "sm_86") == 0);
  CHECK(choose_image(images, "sm_89") == 0);
  // A newer major version: only the PTX, which the driver compiles for it.
  CHECK(choose_image(images, "sm_100") == 2);
  CHECK(choose_image(images, "sm_120") == 2);
  // An older GPU: no cubin and PTX newer than it.
  CHECK(choose_image(images, "sm_75") == -1);
  // No PTX and no matching cubin: the source.
  const std::vector<std::string> cubins{"sm_80", "sm_90"};
  CHECK(choose_image(cubins, "sm_100") == -1);
  CHECK(choose_image(cubins, "sm_90") == 1);
  CHECK(choose_image({}, "sm_90") == -1);
  // The newest PTX not newer than the GPU, and the exact cubin over a same-major one.
  const std::vector<std::string> mixed{"compute_75", "sm_86", "compute_90", "sm_80", "compute_80"};
  CHECK(choose_image(mixed, "sm_100") == 2);
  CHECK(choose_image(mixed, "sm_89") == 1);
  CHECK(choose_image(mixed, "sm_80") == 3);
  CHECK(choose_image(mixed, "sm_75") == 0);
  // Names that do not parse are never chosen; a device name that does not parse chooses nothing.
  const std::vector<std::string> odd{"sm_90a", "sm90", "", "compute_9"};
  CHECK(choose_image(odd, "sm_90") == -1);
  CHECK(choose_image(images, "compute_90") == -1);
  CHECK(choose_image(images, "gfx90a") == -1);
}

TEST_CASE("CUDA architecture names parse as NVRTC spells them", "[cuda][artifact]") {
  auto sm90 = parse_cuda_arch("sm_90");
  REQUIRE(sm90);
  CHECK_FALSE(sm90->is_ptx);
  CHECK(sm90->number == 90);
  CHECK(sm90->major() == 9);
  CHECK(sm90->str() == "sm_90");
  auto c80 = parse_cuda_arch("compute_80");
  REQUIRE(c80);
  CHECK(c80->is_ptx);
  CHECK(c80->str() == "compute_80");
  auto sm100 = parse_cuda_arch("sm_100");
  REQUIRE(sm100);
  CHECK(sm100->major() == 10);
  CHECK(sm100->minor() == 0);
  for (const char* bad : {"", "sm_", "sm_9", "sm_1000", "sm_090", "sm_90a", "SM_90", "sm-90", "compute_", "lto_90",
                          "sm_9x", " sm_90"})
    CHECK_FALSE(parse_cuda_arch(bad));
}
