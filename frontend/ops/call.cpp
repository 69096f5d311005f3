// The frontend's side of an op: what runs an op eagerly for a user (`call`: device checks,
// autograd recording, tracing, anomaly checks). Derivatives and samples are added to the op
// table (runtime/ops/registry.h) with extend_op.
#include <algorithm>

#include "frontend/autograd/anomaly.h"
#include "frontend/autograd/graph.h"
#include "frontend/ops/registry.h"
#include "frontend/trace/tracer.h"
#include "tl/autograd.h"
#include "tl/debug.h"

namespace tl::ops {

namespace {
// Anomaly mode: throws when `out` holds NaN/Inf, naming the op and the user's line.
void check_output(const OpDef& op, std::span<const Tensor> inputs, const Tensor& out, Site site) {
  auto bad = autograd::find_non_finite(out);
  if (!bad) return;
  bool inputs_bad = false;
  for (const Tensor& t : inputs) inputs_bad = inputs_bad || autograd::find_non_finite(t).has_value();
  throw NumericsError("tl::detect_anomaly: " + op.name + " produced " + bad->what + " at index " +
                      autograd::index_str(out.shape(), bad->index) + " of its " + out.shape().str() + " " +
                      dtype_name(out.dtype()) + " output (" + describe(inputs) + ")" +
                      (inputs_bad ? "; an input already held NaN/Inf" : "") + " at " + site.str());
}
}  // namespace

namespace {
// A shape rule's errors from shared code (a rank above the cap, a size overflow) say only
// "tl: ..."; name the op and the user's line, as the rule's own errors do.
OutputMeta infer_with_context(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs, Site site) {
  try {
    return op.infer(inputs, attrs, site);
  } catch (const ShapeError& e) {
    std::string what = e.what();
    if (what.rfind("tl: ", 0) != 0) throw;
    throw ShapeError("tl::" + op.name + ": " + what.substr(4) + " at " + site.str());
  }
}
}  // namespace

Tensor call(const OpDef& op, std::initializer_list<Tensor> inputs, const Attrs& attrs, Site site) {
  return call(op, std::span<const Tensor>(inputs.begin(), inputs.size()), attrs, site);
}

Tensor call(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs, Site site) {
  Device device = kCPU;
  bool first = true;
  bool host_scalars = false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined()) {
      if (std::find(op.optional_inputs.begin(), op.optional_inputs.end(), static_cast<int>(i)) != op.optional_inputs.end())
        continue;
      std::string what = "operand " + std::to_string(i);
      require_defined(t, op.name.c_str(), what.c_str(), site);
    }
    // A shape-only tensor (derivative rules run symbolically by the autodiff pass) has no device.
    if (trace::is_meta(t)) continue;
    // A 0-d host tensor (a C++ scalar) joins operands on any device, as in PyTorch.
    if (t.dim() == 0 && t.device() == kCPU) {
      host_scalars = true;
      continue;
    }
    if (first) {
      device = t.device();
      first = false;
    } else if (t.device() != device) {
      throw DeviceError("tl::" + op.name + ": operands are on different devices: " +
                        describe(inputs) + " at " + site.str() + " (move them with .to(device))");
    }
  }
  if (host_scalars && device.type != DeviceType::kCPU && op.kind != OpKind::kElementwise) {
    // Elementwise kernels take such a scalar by value; other ops get it on their device.
    std::vector<Tensor> moved(inputs.begin(), inputs.end());
    for (Tensor& t : moved)
      if (t.defined() && t.dim() == 0 && t.device() == kCPU) t = t.to(device, site);
    return call(op, std::span<const Tensor>(moved), attrs, site);
  }
  Tensor out;
  trace::Tracer* tracer = trace::active();
  if (tracer && tracer->symbolic()) {
    // Derivative rules run on shapes only while the autodiff pass builds the backward graph.
    NoGradGuard no_grad;
    trace::PauseScope pause;
    out = op.view != nullptr ? op.view(inputs[0], attrs, site) : [&] {
      OutputMeta meta = infer_with_context(op, inputs, attrs, site);
      return trace::meta_tensor(meta.shape, meta.dtype);
    }();
    tracer->record_op(op, inputs, attrs, site, out);
    return out;
  }
  if (op.view != nullptr) {
    NoGradGuard no_grad;
    out = op.view(inputs[0], attrs, site);
  } else {
    OutputMeta meta = infer_with_context(op, inputs, attrs, site);
    out = empty_tensor(meta.shape, meta.dtype, device, op.name.c_str(), site);
    if (!has_kernel(op, device.type)) {
      throw DeviceError("tl::" + op.name + ": no kernel for device " + device.str() + " at " +
                        site.str());
    }
    if (out.numel() > 0) {
      NoGradGuard no_grad;  // kernels may use ops internally; those record nothing
      if (tracer) {
        trace::PauseScope pause;  // nor are they part of a traced program
        run_kernel(op, device.type, inputs, out, attrs);
      } else {
        run_kernel(op, device.type, inputs, out, attrs);
      }
    }
  }
  if (tracer) tracer->record_op(op, inputs, attrs, site, out);
  if (is_anomaly_enabled() && !autograd::in_backward()) check_output(op, inputs, out, site);
  // An op without a derivative rule (boolean, integer or piecewise-constant results) gives a
  // constant: no gradient flows through it, in first or higher derivatives.
  if (is_grad_enabled() && op.grad != nullptr) {
    for (const Tensor& t : inputs) {
      if (t.defined() && autograd::needs_grad(t)) {
        autograd::record(out, inputs, &op, attrs, site);
        break;
      }
    }
  }
  return out;
}

}  // namespace tl::ops
