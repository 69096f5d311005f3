// Reproducible randomness. All generators are counter-based (Philox 4x32-10): a draw is a
// pure function of (seed, offset, element index), so results do not depend on threading.
#pragma once

#include <cstdint>

namespace tl {

// The state of a Philox stream: saving and restoring it reproduces the following draws.
struct GeneratorState {
  uint64_t seed = 0;
  uint64_t offset = 0;  // counters consumed so far
};

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : state_{seed, 0} {}
  void manual_seed(uint64_t seed) { state_ = {seed, 0}; }
  GeneratorState state() const { return state_; }
  void set_state(GeneratorState state) { state_ = state; }
  // Reserves `count` counters and returns the offset of the first.
  uint64_t advance(uint64_t count);

 private:
  GeneratorState state_;
};

// The process-wide default generator used by rand/randn/dropout/init.
Generator& default_generator();
// Seeds every generator tl owns (the default one; device generators as they appear).
void manual_seed(uint64_t seed);

}  // namespace tl
