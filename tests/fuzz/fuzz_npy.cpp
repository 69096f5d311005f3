// Fuzzes NumPy .npy reading (tl::load_npy, runtime/io/npy.cpp) with raw file bytes.
// Oracle: a file is refused with a tl::Error, or it loads into a tensor of the dtype and
// shape its header states; that tensor saves and loads again with the same dtype, shape and
// bytes. Any other exception is a failure.
#include <cstdint>
#include <cstring>
#include <string>

#include "tests/fuzz/fuzz_util.h"
#include "tl/tl.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto dir = tl::fuzz::scratch_dir();
  const std::string input = (dir / "input.npy").string();
  tl::fuzz::write_file(input, data, size);
  tl::Tensor t;
  try {
    t = tl::load_npy(input);
  } catch (const tl::Error&) {
    return 0;
  }
  if (!t.is_contiguous()) tl::fuzz::fail("load_npy returned a non-contiguous tensor");
  if (t.nbytes() > size) tl::fuzz::fail("load_npy returned more data bytes than the file holds");
  const std::string resaved = (dir / "resaved.npy").string();
  tl::save_npy(resaved, t);
  tl::Tensor again;
  try {
    again = tl::load_npy(resaved);
  } catch (const tl::Error& e) {
    tl::fuzz::fail(std::string("a re-saved .npy file does not load: ") + e.what());
  }
  if (again.shape() != t.shape() || again.dtype() != t.dtype() ||
      std::memcmp(again.data_ptr(), t.data_ptr(), t.nbytes()) != 0)
    tl::fuzz::fail("a re-saved .npy file loads with another dtype, shape or bytes");
  return 0;
}
