// Objects whose state a checkpoint carries besides the model and the optimizer (a data
// loader's position and shuffle order, a user's counters). tl::save stores each one's state
// under its key; tl::load hands it back before training resumes.
#pragma once

#include <string>

namespace tl {

class Stateful {
 public:
  virtual ~Stateful() = default;
  // A stable key naming this object in the checkpoint, e.g. "data_loader.train".
  virtual std::string state_key() const = 0;
  // The state as a JSON document (plain data only: never code, types or paths to execute).
  virtual std::string save_state() const = 0;
  // Restores from save_state()'s output; throws tl::Error (changing nothing) when the state
  // does not fit this object.
  virtual void load_state(const std::string& json) = 0;
};

}  // namespace tl
