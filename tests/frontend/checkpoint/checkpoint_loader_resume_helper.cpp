// Run by checkpoint_test in a fresh process: builds a model, optimizer and shuffling
// DataLoader (seeded differently from the saving process on purpose), loads a checkpoint that
// carries the loader's state, trains `steps` more steps and writes the restored step, epoch and
// position, then as hex float bits each step's loss and batch (x then y), one step per line,
// then the final parameters.
// Usage: checkpoint_loader_resume_helper CHECKPOINT STEPS NUM_WORKERS OUT
#include <cstdio>
#include <cstdlib>

#include "resume_mlp.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s CHECKPOINT STEPS NUM_WORKERS OUT\n", argv[0]);
    return 2;
  }
  try {
    tl::manual_seed(424242);
    auto model = resume::make_mlp();
    tl::optim::Adam opt(model.parameters(), resume::adam_options());
    tl::data::DataLoader loader(resume::table(), resume::loader_options(std::atoi(argv[3])));
    tl::CheckpointExtra extra{.stateful = {&loader}};
    tl::load(argv[1], model, &opt, &extra);
    long long epoch = loader.epoch(), position = loader.position();
    auto steps = resume::train_from(model, opt, loader, std::atoll(argv[2]));
    FILE* out = std::fopen(argv[4], "w");
    if (!out) return 3;
    std::fprintf(out, "%lld %lld %lld\n", static_cast<long long>(extra.step), epoch, position);
    std::fprintf(out, "%zu\n", steps.size());
    for (const auto& s : steps) {
      std::fprintf(out, "%08x %zu", s.loss, s.batch.size());
      for (uint32_t b : s.batch) std::fprintf(out, " %08x", b);
      std::fprintf(out, "\n");
    }
    auto params = resume::parameter_bits(model);
    std::fprintf(out, "%zu\n", params.size());
    for (uint32_t b : params) std::fprintf(out, "%08x\n", b);
    return std::fclose(out) == 0 ? 0 : 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
