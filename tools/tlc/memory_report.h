// What an artifact's program needs in memory, read from its memory plan without running it:
// tlc's plan summary, its --print-plan table, and the buffers it names when a plan is over
// the --max-memory budget.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/artifact/artifact.pb.h"

namespace tl::tlc {

struct MemorySummary {
  uint64_t weights_bytes = 0;  // every constant, loaded once
  uint64_t arena_bytes = 0;    // the planned intermediates, sharing one arena
  uint64_t output_bytes = 0;   // the outputs, allocated fresh by each call
  uint64_t peak_bytes = 0;     // weights + arena + outputs (the caller's inputs not counted)
  int constants = 0;
  int arena_values = 0;
  int kernels = 0;
};

// `program` must have passed rt::Artifact's checks (sizes do not overflow, ids are in range).
MemorySummary summarize_memory(const artifact::Program& program);
// The summary, one line per figure, each indented by two spaces.
std::string format_summary(const MemorySummary& summary);
// The `n` largest buffers among the constants, the arena's values and the outputs, largest
// first: one line each with its kind, value, type, bytes and the op and source line behind it.
std::string format_largest_buffers(const artifact::Program& program, const artifact::Manifest& manifest, size_t n);
// One line per kernel call: its result, type, bytes and placement (its arena byte range, an
// output's own buffer, or outside the arena), and the source line that issued it.
std::string format_plan(const artifact::Program& program, const artifact::Manifest& manifest);
// One line per constant: its value, type, bytes and byte range in the weights section.
std::string format_constants(const artifact::Program& program);

}  // namespace tl::tlc
