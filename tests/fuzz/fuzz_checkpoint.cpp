// Fuzzes checkpoint loading (tl::load, frontend/io/checkpoint.cpp) with raw file bytes, into
// a fixed model with and without its optimizer.
// Oracle: a file is refused with a tl::Error, or it loads; a file that loads must save and
// load again bit-identically (same parameters, optimizer state, step, epoch and metadata, and
// the same bytes when saved a second time). Any other exception is a failure.
#include <cstdint>
#include <cstring>
#include <string>

#include "tests/fuzz/fuzz_util.h"
#include "tl/tl.h"

namespace {

// The model every input is loaded into: small, with two layers and an optimizer with state.
struct Fixture {
  tl::nn::Sequential model;
  tl::optim::Adam opt;
  explicit Fixture(uint64_t seed)
      : model((tl::manual_seed(seed), tl::nn::Sequential(tl::nn::Linear(4, 3), tl::nn::ReLU(), tl::nn::Linear(3, 2)))),
        opt(model.parameters(), tl::optim::AdamOptions{.lr = 1e-2}) {}
};

bool same_bits(const tl::Tensor& a, const tl::Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  tl::Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

void check_same_state(const Fixture& a, const Fixture& b) {
  auto sa = a.model.state_dict(), sb = b.model.state_dict();
  if (sa.size() != sb.size()) tl::fuzz::fail("re-loaded model has another number of tensors");
  for (const auto& [name, t] : sa) {
    auto it = sb.find(name);
    if (it == sb.end() || !same_bits(t, it->second)) tl::fuzz::fail("re-loaded tensor differs: " + name);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto dir = tl::fuzz::scratch_dir();
  const std::string input = (dir / "input.tlckpt").string();
  tl::fuzz::write_file(input, data, size);
  // With an optimizer, then without: a checkpoint without optimizer state is refused when an
  // optimizer is given, and loads into the model alone.
  for (const bool with_optimizer : {true, false}) {
    Fixture first(1);
    tl::CheckpointExtra extra;
    const tl::LoadOptions options{.missing_state = tl::MissingState::kWarn};
    try {
      tl::load(input, first.model, with_optimizer ? &first.opt : nullptr, &extra, options);
    } catch (const tl::Error&) {
      continue;  // refused: the expected outcome for almost every input
    }
    // Accepted: saving what was loaded and loading it again must give the same state.
    const std::string resaved = (dir / "resaved.tlckpt").string();
    tl::save(resaved, first.model, with_optimizer ? &first.opt : nullptr, extra);
    const std::string first_bytes = tl::fuzz::read_file(resaved);
    Fixture second(2);
    tl::CheckpointExtra extra2;
    try {
      tl::load(resaved, second.model, with_optimizer ? &second.opt : nullptr, &extra2, options);
    } catch (const tl::Error& e) {
      tl::fuzz::fail(std::string("a re-saved checkpoint does not load: ") + e.what());
    }
    check_same_state(first, second);
    if (extra2.step != extra.step || extra2.epoch != extra.epoch || extra2.metadata != extra.metadata)
      tl::fuzz::fail("re-loaded step, epoch or metadata differ");
    tl::save(resaved, second.model, with_optimizer ? &second.opt : nullptr, extra2);
    if (tl::fuzz::read_file(resaved) != first_bytes)
      tl::fuzz::fail("saving the re-loaded checkpoint gives other bytes");
    return 0;
  }
  return 0;
}
