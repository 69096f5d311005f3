// A model's layers, output shapes and parameter counts, like torchinfo's summary.
#pragma once

#include <string>

#include "tl/nn/module.h"

namespace tl::nn {

// Runs `model` once on `input` (without recording gradients) and returns a table with one
// row per module in registration order: dotted name, type, output shape and the number of
// parameters the module owns directly; then the total and trainable parameter counts.
// Modules that do not run in this forward show "-" as their output shape.
std::string summary(Module& model, const Tensor& input, Site site = Site::here());

}  // namespace tl::nn
