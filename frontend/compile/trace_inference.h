// Tracing an inference function for export: the one recording step that tl::export_program
// (artifacts, frontend/compile/export.cpp) and tl::onnx::export_program (onnx/export.cpp) share.
// What each exporter does with the program afterwards (optimize it, convert it) is its own.
#pragma once

#include <functional>
#include <span>
#include <string>

#include "runtime/exec/graph.h"
#include "tl/export.h"

namespace tl::detail {

// Runs `body` on `args` once, without autograd, and returns the program it recorded: `args`
// are its arguments in order, tensors it read but did not create are captures, tensors it
// created from host values are constant nodes, and `site` is given to a constant returned as
// an output. Nothing is optimized. What an exported inference program cannot hold is passed
// to `refuse`, which must throw: an undefined output, an untraceable construct, a host read
// of a module flag, backward() (which fails eagerly with an AutogradError under the no-grad
// mode the body runs in, or is recorded when the body enables grad itself), a random draw, a
// host read of a tensor value, an in-place update and a gradient read; each reason names the
// user's line where there is one ("the function draws random numbers at model.cpp:12; ...").
trace::Graph trace_inference(const ExportBody& body, std::span<const Tensor> args, Site site,
                             const std::function<void(const std::string&)>& refuse);

}  // namespace tl::detail
