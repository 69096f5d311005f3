// Load-time graph optimizations of an imported model, each counted for Model::plan().
#pragma once

#include <string>

#include "onnx/model_graph.h"

namespace tl::onnx_import {

struct OptimizeStats {
  int folded_constants = 0;  // nodes computed once at load from constants alone
  int folded_batch_norms = 0;  // BatchNormalization merged into the convolution before it
  int removed_nodes = 0;     // nodes whose results nothing uses
};

// Folds nodes whose inputs are all constants into new constants, merges a BatchNormalization
// with constant statistics into the Conv that alone feeds it, and drops unused nodes and
// constants. The graph computes the same outputs (up to float rounding of folded weights).
OptimizeStats optimize(Graph& g);

// Drops nodes whose outputs nothing reads and constants nothing reads.
int remove_unused(Graph& g);

}  // namespace tl::onnx_import
