// One-call training checkpoints: the model, the optimizer, every RNG state, step and epoch,
// user metadata and any tl::Stateful objects, in one safetensors-compatible file that is
// written atomically and verified completely before anything is loaded. See docs/checkpoints.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tl/error.h"
#include "tl/nn/module.h"
#include "tl/optim.h"
#include "tl/stateful.h"

namespace tl {

// What a checkpoint carries besides the model and the optimizer.
struct CheckpointExtra {
  int64_t step = 0;
  int64_t epoch = 0;
  // Free-form string pairs (run name, git commit, ...), stored as given.
  std::map<std::string, std::string> metadata{};
  // Objects saved under their state_key() and restored in place by load (a data loader's
  // position, user counters). Not owned; keys must be distinct.
  std::vector<Stateful*> stateful{};
};

// What tl::load does when the file lacks a piece of training state that the caller asked to
// restore: the default generator's state ("rng"), or the state of a Stateful object passed in
// `extra` (a data loader's position, which a checkpoint saved without that loader lacks).
enum class MissingState {
  kRefuse,  // throw before anything is changed (the default): resuming without it is not exact
  kWarn,    // load everything else; the generator or those objects keep their current state; a
            // warning names each missing piece (logger "tl.checkpoint" and LoadReport::warnings)
};

struct LoadOptions {
  MissingState missing_state = MissingState::kRefuse;
  // Refuse a checkpoint whose floating-point tensors (model or optimizer state) hold NaN or
  // infinities: ValueError naming every such tensor, its count of non-finite values and the
  // index and value of the first one; nothing is changed. Off by default: the format stores
  // any value, and checking reads every element once more.
  bool check_finite = false;
};

// What tl::load reports besides the restored objects.
struct LoadReport {
  // One line per piece of state that was missing and skipped (MissingState::kWarn).
  std::vector<std::string> warnings;
};

// Writes `model`'s parameters and buffers, `optimizer`'s state tensors, type and
// hyper-parameters (when given), the default generator's state, and `extra` to `path`.
// The file is a safetensors container; tl's own fields (format version, per-tensor CRC32C,
// optimizer, RNG, step, Stateful states) are strings in its "__metadata__". Tensors are
// streamed in 4 MiB chunks, each checksummed and written from one buffer (peak extra memory:
// that buffer, plus one tensor for non-contiguous or device tensors; no copy of the
// optimizer state). The write is atomic: a temporary in the same directory, locked with
// flock while it is written, is fsynced and renamed over `path`, then the directory is
// fsynced, so `path` holds either the previous file or the complete new one. Unlocked
// temporaries of crashed saves to `path` older than a minute are removed.
// Throws IoError, before writing anything, when `path` is empty, ends with '/', is a
// directory or a symbolic link, or its folder does not exist; IoError naming the path and
// the bytes written and needed when the disk is full or any call fails (the previous file is
// intact and the temporary removed); IoError naming the tensor when another thread wrote to
// one of the tensors in place during the save (nothing is renamed); ValueError for a
// duplicate Stateful key, or a tensor name, metadata or Stateful key or state that is not
// valid UTF-8 (before writing anything).
void save(const std::string& path, const nn::Module& model, const optim::Optimizer* optimizer = nullptr,
          const CheckpointExtra& extra = {}, Site site = Site::here());

// Restores what save wrote into `model` (values copied into its existing tensors), `optimizer`
// (when given), the default generator and, when `extra` is given, its Stateful objects; fills
// extra's step, epoch and metadata. The whole file is verified first (structure, sizes,
// CRC32C of every tensor, format version), then the model (all missing keys, unexpected keys
// and shape mismatches are listed together), the optimizer (type and parameter count) and the
// Stateful keys; nothing is changed unless all pass, and a Stateful or optimizer that refuses
// its state rolls back what was already restored. The optimizer's saved lr and weight_decay
// must pass its constructor's rules (Optimizer::check_group). A path that is not a regular
// file (a FIFO, a directory, a device) is refused without blocking. Peak extra memory: the
// checkpoint's tensors, staged before anything is changed. Throws IoError for a bad or
// unreadable file and ValueError for a checkpoint that does not fit; both name the file. A
// missing RNG or Stateful state is refused unless `options.missing_state` is kWarn;
// `options.check_finite` also refuses NaN/Inf values (see LoadOptions).
LoadReport load(const std::string& path, nn::Module& model, optim::Optimizer* optimizer = nullptr,
                CheckpointExtra* extra = nullptr, const LoadOptions& options = {}, Site site = Site::here());

// The version of the checkpoint format this build writes and reads.
inline constexpr int kCheckpointFormatVersion = 1;

}  // namespace tl
