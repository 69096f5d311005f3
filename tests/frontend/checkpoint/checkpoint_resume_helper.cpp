// Run by checkpoint_test in a fresh process: loads a checkpoint into a newly built model and
// optimizer (seeded differently on purpose), trains `steps` more and writes the losses and
// final parameters as hex float bits, one per line.
// Usage: checkpoint_resume_helper CHECKPOINT STEPS OUT
#include <cstdio>
#include <cstdlib>

#include "resume_mlp.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s CHECKPOINT STEPS OUT\n", argv[0]);
    return 2;
  }
  try {
    tl::manual_seed(987654321);
    auto model = resume::make_mlp();
    tl::optim::Adam opt(model.parameters(), resume::adam_options());
    tl::CheckpointExtra extra;
    tl::load(argv[1], model, &opt, &extra);
    auto losses = resume::train(model, opt, extra.step, extra.step + std::atoll(argv[2]));
    auto params = resume::parameter_bits(model);
    FILE* out = std::fopen(argv[3], "w");
    if (!out) return 3;
    std::fprintf(out, "%zu\n", losses.size());
    for (uint32_t b : losses) std::fprintf(out, "%08x\n", b);
    std::fprintf(out, "%zu\n", params.size());
    for (uint32_t b : params) std::fprintf(out, "%08x\n", b);
    return std::fclose(out) == 0 ? 0 : 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
