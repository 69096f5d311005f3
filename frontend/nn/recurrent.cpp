// Recurrent layers and cells (tl/nn/recurrent.h), composed from op-table ops: the derivatives,
// tracing and compilation come from those ops, and this file holds the recurrences, the shape
// rules and PyTorch's parameter layout. A sequence is a loop over time on the host, so a traced
// call records every step (the length L is part of what a compiled program was traced for).
#include "tl/nn/recurrent.h"

#include <cmath>
#include <sstream>
#include <utility>

#include "tl/nn/functional.h"
#include "tl/nn/init.h"
#include "tl/ops.h"

namespace tl::nn {
namespace {

using Mode = RNNBase::Mode;

// The state carried from step to step: h (N, H_out) and, for LSTM, c (N, hidden_size).
struct CellState {
  Tensor h, c;
};

std::string describe(const Tensor& t) {
  return t.defined() ? t.shape().str() + " " + dtype_name(t.dtype()) : std::string("undefined");
}

std::string format_double(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

const char* layer_name(Mode mode) {
  switch (mode) {
    case Mode::kRNNTanh:
    case Mode::kRNNReLU: return "tl::nn::RNN";
    case Mode::kLSTM: return "tl::nn::LSTM";
    case Mode::kGRU: return "tl::nn::GRU";
  }
  return "";
}

const char* cell_name(Mode mode) {
  switch (mode) {
    case Mode::kRNNTanh:
    case Mode::kRNNReLU: return "tl::nn::RNNCell";
    case Mode::kLSTM: return "tl::nn::LSTMCell";
    case Mode::kGRU: return "tl::nn::GRUCell";
  }
  return "";
}

// The rows of weight_ih per hidden unit: one per gate.
int64_t gate_count(Mode mode) { return mode == Mode::kLSTM ? 4 : mode == Mode::kGRU ? 3 : 1; }

void require_positive(int64_t value, const std::string& layer, const char* what, Site site) {
  if (value <= 0)
    throw ValueError(layer + ": " + what + " must be positive, got " + std::to_string(value) + " at " + site.str());
}

Mode parse_nonlinearity(const std::string& nonlinearity, const std::string& layer, Site site) {
  if (nonlinearity == "tanh") return Mode::kRNNTanh;
  if (nonlinearity == "relu") return Mode::kRNNReLU;
  throw ValueError(layer + ": unknown nonlinearity \"" + nonlinearity + "\" (expected \"tanh\" or \"relu\") at " +
                   site.str());
}

// U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch's RNNBase and RNNCellBase reset_parameters.
Tensor uniform_parameter(Module& module, const std::string& name, Shape shape, int64_t hidden_size, Site site) {
  Tensor t = module.register_parameter(name, empty(std::move(shape)), true, site);
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  return init::uniform_(t, -bound, bound, site);
}

// x W_ih^T + b_ih for all steps at once: x (..., H_in) -> (..., G * hidden_size). b_hh is
// folded in here too, except for GRU, whose b_hn sits inside the reset gate's product.
Tensor project_input(Mode mode, const Tensor& x, const Tensor& w_ih, const Tensor& b_ih, const Tensor& b_hh,
                     Site site) {
  Tensor y = matmul(x, w_ih.t(site), site);
  if (!b_ih.defined()) return y;
  return add(y, mode == Mode::kGRU ? b_ih : add(b_ih, b_hh, site), site);
}

// One step of the recurrence from the projected input `xp` (N, G * hidden_size) of
// project_input. `w_hh_t` is W_hh^T; `gru_b_hh` is b_hh for GRU (else undefined); `w_hr_t` is
// W_hr^T for an LSTM with a projection (else undefined). PyTorch's gate orders: LSTM i, f, g, o;
// GRU r, z, n.
CellState cell_step(Mode mode, const Tensor& xp, const CellState& s, const Tensor& w_hh_t, const Tensor& gru_b_hh,
                const Tensor& w_hr_t, Site site) {
  Tensor hp = matmul(s.h, w_hh_t, site);  // (N, G * hidden_size)
  switch (mode) {
    case Mode::kRNNTanh: return {tanh(add(xp, hp, site), site), {}};
    case Mode::kRNNReLU: return {relu(add(xp, hp, site), site), {}};
    case Mode::kLSTM: {
      const std::vector<Tensor> g = chunk(add(xp, hp, site), 4, -1, site);
      Tensor c = add(mul(sigmoid(g[1], site), s.c, site), mul(sigmoid(g[0], site), tanh(g[2], site), site), site);
      Tensor h = mul(sigmoid(g[3], site), tanh(c, site), site);
      if (w_hr_t.defined()) h = matmul(h, w_hr_t, site);
      return {h, c};
    }
    case Mode::kGRU: {
      if (gru_b_hh.defined()) hp = add(hp, gru_b_hh, site);
      const std::vector<Tensor> xg = chunk(xp, 3, -1, site), hg = chunk(hp, 3, -1, site);
      const Tensor r = sigmoid(add(xg[0], hg[0], site), site);
      const Tensor z = sigmoid(add(xg[1], hg[1], site), site);
      const Tensor n = tanh(add(xg[2], mul(r, hg[2], site), site), site);
      // (1 - z) * n + z * h, written as PyTorch's kernel computes it.
      return {add(n, mul(z, sub(s.h, n, site), site), site), {}};
    }
  }
  return {};
}

// One layer in one direction over x (L, N, H_in), from the state `s`. Returns the outputs
// (L, N, H_out) and the last state. `valid` (L, N) bool, when defined, marks the steps within
// each sequence's length: elsewhere the state is held and the output is zero. Held this way, a
// forward pass ends with the state of each sequence's last valid step, and a reverse pass keeps
// its initial state until it reaches the sequence's last element, as a packed sequence would.
std::pair<Tensor, CellState> run_direction(Mode mode, const Tensor& x, const RecurrentWeights& w, CellState s,
                                       const Tensor& valid, bool reverse, Site site) {
  const int64_t L = x.size(0);
  const Tensor xp = project_input(mode, x, w.weight_ih, w.bias_ih, w.bias_hh, site);  // (L, N, G * hidden_size)
  const Tensor w_hh_t = w.weight_hh.t(site);
  const Tensor gru_b_hh = mode == Mode::kGRU ? w.bias_hh : Tensor();
  const Tensor w_hr_t = w.weight_hr.defined() ? w.weight_hr.t(site) : Tensor();
  std::vector<Tensor> outputs(static_cast<size_t>(L));
  for (int64_t step = 0; step < L; ++step) {
    const int64_t t = reverse ? L - 1 - step : step;
    CellState next = cell_step(mode, xp.select(0, t, site), s, w_hh_t, gru_b_hh, w_hr_t, site);
    if (valid.defined()) {
      const Tensor m = valid.select(0, t, site).unsqueeze(1, site);  // (N, 1)
      next.h = where(m, next.h, s.h, site);
      if (next.c.defined()) next.c = where(m, next.c, s.c, site);
    }
    outputs[static_cast<size_t>(t)] = next.h;
    s = std::move(next);
  }
  Tensor out = stack(outputs, 0, site);
  if (valid.defined())
    out = where(valid.unsqueeze(2, site), out, scalar_tensor(0.0, {.dtype = out.dtype(), .device = out.device()}, site),
                site);
  return {out, s};
}

// (L, N) bool, true at the steps t < lengths[n]. The values are checked on the host (in eager
// and traced calls; a compiled call runs the program it traced).
Tensor valid_steps(const Tensor& lengths, int64_t L, int64_t N, bool batched, const Tensor& input,
                   const std::string& layer, Site site) {
  if (lengths.dtype() != kInt64 && lengths.dtype() != kInt32)
    throw DTypeError(layer + ": lengths must be int64 or int32, got " + describe(lengths) + " at " + site.str());
  if (lengths.dim() != 1 || lengths.size(0) != N)
    throw ShapeError(layer + ": lengths is " + describe(lengths) + " but must be " + Shape{N}.str() +
                     (batched ? " (one length per sequence)" : " (one length for unbatched input)") +
                     " for input " + describe(input) + " at " + site.str());
  const std::vector<int64_t> values = lengths.to_vector<int64_t>(site);
  for (size_t n = 0; n < values.size(); ++n)
    if (values[n] < 1 || values[n] > L)
      throw ShapeError(layer + ": lengths[" + std::to_string(n) + "] is " + std::to_string(values[n]) +
                       " but must be in [1, " + std::to_string(L) + "] (0 < length <= L = " + std::to_string(L) +
                       ", the input's sequence length) for input " + describe(input) + " at " + site.str());
  const Tensor steps = arange(static_cast<double>(L), {.dtype = kInt64, .device = input.device()}, site);
  const Tensor limits = lengths.to(input.device(), kInt64, site).unsqueeze(0, site);  // (1, N)
  return lt(steps.unsqueeze(1, site), limits, site);
}

}  // namespace

Tensor SequenceLengths::to_tensor(Site site) const {
  if (tensor_.defined() || !values_) return tensor_;
  return from_vector<int64_t>(*values_, {static_cast<int64_t>(values_->size())}, {.dtype = kInt64}, site);
}

// ---------------- RNNBase ----------------

RNNBase::RNNBase(Mode mode, int64_t input_size, int64_t hidden_size, int64_t num_layers, bool bias, bool batch_first,
                 double dropout, bool bidirectional, int64_t proj_size, Site site)
    : mode(mode),
      input_size(input_size),
      hidden_size(hidden_size),
      num_layers(num_layers),
      bias(bias),
      batch_first(batch_first),
      dropout(dropout),
      bidirectional(bidirectional),
      proj_size(proj_size) {
  const std::string layer = layer_name(mode);
  require_positive(input_size, layer, "input_size", site);
  require_positive(hidden_size, layer, "hidden_size", site);
  require_positive(num_layers, layer, "num_layers", site);
  if (!(dropout >= 0.0 && dropout <= 1.0))
    throw ValueError(layer + ": dropout must be in [0, 1], got " + format_double(dropout) + " at " + site.str());
  if (proj_size < 0 || (proj_size > 0 && proj_size >= hidden_size))
    throw ValueError(layer + ": proj_size must be 0 (none) or in [1, hidden_size = " + std::to_string(hidden_size) +
                     "), got " + std::to_string(proj_size) + " at " + site.str());
  const int64_t G = gate_count(mode), D = num_directions(), H_out = proj_size > 0 ? proj_size : hidden_size;
  for (int64_t k = 0; k < num_layers; ++k) {
    for (int64_t d = 0; d < D; ++d) {
      const std::string suffix = "_l" + std::to_string(k) + (d == 1 ? "_reverse" : "");
      const int64_t features = k == 0 ? input_size : D * H_out;
      RecurrentWeights w;
      w.weight_ih = uniform_parameter(*this, "weight_ih" + suffix, {G * hidden_size, features}, hidden_size, site);
      w.weight_hh = uniform_parameter(*this, "weight_hh" + suffix, {G * hidden_size, H_out}, hidden_size, site);
      if (bias) {
        w.bias_ih = uniform_parameter(*this, "bias_ih" + suffix, {G * hidden_size}, hidden_size, site);
        w.bias_hh = uniform_parameter(*this, "bias_hh" + suffix, {G * hidden_size}, hidden_size, site);
      }
      if (proj_size > 0)
        w.weight_hr = uniform_parameter(*this, "weight_hr" + suffix, {proj_size, hidden_size}, hidden_size, site);
      weights.push_back(w);
    }
  }
}

RecurrentOutput RNNBase::run(const Tensor& input, const Tensor& h0, const Tensor& c0, const Tensor& lengths,
                             Site site) {
  const std::string layer = layer_name(mode);
  const int64_t D = num_directions(), H_out = proj_size > 0 ? proj_size : hidden_size;
  if (!input.defined() || (input.dim() != 2 && input.dim() != 3) || input.size(-1) != input_size ||
      input.size(input.dim() == 3 && batch_first ? 1 : 0) == 0) {
    const std::string in = std::to_string(input_size);
    throw ShapeError(layer + ": input is " + describe(input) + " but the layer expects " +
                     (batch_first ? "(N, L, " : "(L, N, ") + in + ") or unbatched (L, " + in +
                     ") with L > 0 (input_size = " + in + ") at " + site.str());
  }
  if (!input.is_floating_point())
    throw DTypeError(layer + ": input must be floating point, got " + describe(input) + " at " + site.str());
  const bool batched = input.dim() == 3;
  // Work time-major: x (L, N, H_in).
  const Tensor x = !batched ? input.unsqueeze(1, site) : batch_first ? input.transpose(0, 1, site) : input;
  const int64_t L = x.size(0), N = x.size(1);

  // An initial state as (num_layers * D, N, features); zeros when not given.
  auto initial_state = [&](const Tensor& s, const char* name, int64_t features, const char* features_name) {
    const Shape want = batched ? Shape{num_layers * D, N, features} : Shape{num_layers * D, features};
    if (!s.defined()) return zeros({num_layers * D, N, features}, {.dtype = x.dtype(), .device = x.device()}, site);
    if (s.shape() != want)
      throw ShapeError(layer + ": " + name + " is " + describe(s) + " but must be " + want.str() +
                       (batched ? " (num_layers * num_directions, N, " : " (num_layers * num_directions, ") +
                       features_name + ") for input " + describe(input) + " at " + site.str());
    if (s.dtype() != x.dtype())
      throw DTypeError(layer + ": " + name + " is " + describe(s) + " but the input is " + describe(input) +
                       " (they must have one dtype) at " + site.str());
    return batched ? s : s.unsqueeze(1, site);
  };
  const Tensor h = initial_state(h0, "h0", H_out, proj_size > 0 ? "proj_size" : "hidden_size");
  const Tensor c = mode == Mode::kLSTM ? initial_state(c0, "c0", hidden_size, "hidden_size") : Tensor();
  const Tensor valid = lengths.defined() ? valid_steps(lengths, L, N, batched, input, layer, site) : Tensor();

  std::vector<Tensor> h_n, c_n;
  Tensor layer_input = x;
  for (int64_t k = 0; k < num_layers; ++k) {
    std::vector<Tensor> outputs;
    for (int64_t d = 0; d < D; ++d) {
      const int64_t i = k * D + d;
      const CellState s0{h.select(0, i, site), c.defined() ? c.select(0, i, site) : Tensor()};
      auto [out, last] = run_direction(mode, layer_input, weights[static_cast<size_t>(i)], s0, valid, d == 1, site);
      outputs.push_back(out);
      h_n.push_back(last.h);
      if (last.c.defined()) c_n.push_back(last.c);
    }
    layer_input = D == 1 ? outputs[0] : cat(outputs, 2, site);  // (L, N, D * H_out)
    if (k + 1 < num_layers && dropout > 0 && is_training())
      layer_input = functional::dropout(layer_input, dropout, true, site);
  }

  RecurrentOutput result{layer_input, stack(h_n, 0, site), c_n.empty() ? Tensor() : stack(c_n, 0, site)};
  if (!batched) {
    result.output = result.output.squeeze(1, site);
    result.h_n = result.h_n.squeeze(1, site);
    if (result.c_n.defined()) result.c_n = result.c_n.squeeze(1, site);
  } else if (batch_first) {
    result.output = result.output.transpose(0, 1, site);
  }
  return result;
}

std::string RNNBase::extra_repr() const {
  // PyTorch's format: the sizes, then the options that differ from their defaults.
  std::string s = std::to_string(input_size) + ", " + std::to_string(hidden_size);
  if (proj_size != 0) s += ", proj_size=" + std::to_string(proj_size);
  if (num_layers != 1) s += ", num_layers=" + std::to_string(num_layers);
  if (mode == Mode::kRNNReLU) s += ", nonlinearity=relu";
  if (!bias) s += ", bias=false";
  if (batch_first) s += ", batch_first=true";
  if (dropout != 0) s += ", dropout=" + format_double(dropout);
  if (bidirectional) s += ", bidirectional=true";
  return s;
}

// ---------------- RNN, LSTM, GRU ----------------

RNN::RNN(int64_t input_size, int64_t hidden_size, RNNOptions options, Site site)
    : RNNBase(parse_nonlinearity(options.nonlinearity, "tl::nn::RNN", site), input_size, hidden_size,
              options.num_layers, options.bias, options.batch_first, options.dropout, options.bidirectional, 0, site),
      nonlinearity(options.nonlinearity) {}

RecurrentOutput RNN::operator()(const Tensor& input, const Tensor& h0, const SequenceLengths& lengths, Site site) {
  RecurrentOutput r;
  r.output = call({input, h0, lengths.to_tensor(site)},
                  [&](const std::vector<Tensor>& in) { return (r = forward(in[0], in[1], in[2])).output; }, site);
  return r;
}

RecurrentOutput RNN::forward(const Tensor& input, const Tensor& h0, const Tensor& lengths) {
  return run(input, h0, Tensor(), lengths, call_site());
}

LSTM::LSTM(int64_t input_size, int64_t hidden_size, LSTMOptions options, Site site)
    : RNNBase(Mode::kLSTM, input_size, hidden_size, options.num_layers, options.bias, options.batch_first,
              options.dropout, options.bidirectional, options.proj_size, site) {}

RecurrentOutput LSTM::operator()(const Tensor& input, const Tensor& h0, const Tensor& c0,
                                 const SequenceLengths& lengths, Site site) {
  RecurrentOutput r;
  r.output = call({input, h0, c0, lengths.to_tensor(site)},
                  [&](const std::vector<Tensor>& in) { return (r = forward(in[0], in[1], in[2], in[3])).output; },
                  site);
  return r;
}

RecurrentOutput LSTM::forward(const Tensor& input, const Tensor& h0, const Tensor& c0, const Tensor& lengths) {
  return run(input, h0, c0, lengths, call_site());
}

GRU::GRU(int64_t input_size, int64_t hidden_size, GRUOptions options, Site site)
    : RNNBase(Mode::kGRU, input_size, hidden_size, options.num_layers, options.bias, options.batch_first,
              options.dropout, options.bidirectional, 0, site) {}

RecurrentOutput GRU::operator()(const Tensor& input, const Tensor& h0, const SequenceLengths& lengths, Site site) {
  RecurrentOutput r;
  r.output = call({input, h0, lengths.to_tensor(site)},
                  [&](const std::vector<Tensor>& in) { return (r = forward(in[0], in[1], in[2])).output; }, site);
  return r;
}

RecurrentOutput GRU::forward(const Tensor& input, const Tensor& h0, const Tensor& lengths) {
  return run(input, h0, Tensor(), lengths, call_site());
}

// ---------------- cells ----------------

RNNCellBase::RNNCellBase(Mode mode, int64_t input_size, int64_t hidden_size, bool bias, Site site)
    : mode(mode), input_size(input_size), hidden_size(hidden_size), bias(bias) {
  const std::string layer = cell_name(mode);
  require_positive(input_size, layer, "input_size", site);
  require_positive(hidden_size, layer, "hidden_size", site);
  const int64_t G = gate_count(mode);
  weight_ih = uniform_parameter(*this, "weight_ih", {G * hidden_size, input_size}, hidden_size, site);
  weight_hh = uniform_parameter(*this, "weight_hh", {G * hidden_size, hidden_size}, hidden_size, site);
  if (bias) {
    bias_ih = uniform_parameter(*this, "bias_ih", {G * hidden_size}, hidden_size, site);
    bias_hh = uniform_parameter(*this, "bias_hh", {G * hidden_size}, hidden_size, site);
  }
}

LSTMCellOutput RNNCellBase::step(const Tensor& input, const Tensor& hx, const Tensor& cx, Site site) const {
  const std::string layer = cell_name(mode);
  if (!input.defined() || (input.dim() != 1 && input.dim() != 2) || input.size(-1) != input_size) {
    const std::string in = std::to_string(input_size);
    throw ShapeError(layer + ": input is " + describe(input) + " but the cell expects (N, " + in +
                     ") or unbatched (" + in + ") (input_size = " + in + ") at " + site.str());
  }
  if (!input.is_floating_point())
    throw DTypeError(layer + ": input must be floating point, got " + describe(input) + " at " + site.str());
  const bool batched = input.dim() == 2;
  const Tensor x = batched ? input : input.unsqueeze(0, site);  // (N, input_size)
  const int64_t N = x.size(0);
  auto state = [&](const Tensor& s, const char* name) {
    if (!s.defined()) return zeros({N, hidden_size}, {.dtype = x.dtype(), .device = x.device()}, site);
    const Shape want = batched ? Shape{N, hidden_size} : Shape{hidden_size};
    if (s.shape() != want)
      throw ShapeError(layer + ": " + name + " is " + describe(s) + " but must be " + want.str() +
                       (batched ? " (N, hidden_size)" : " (hidden_size)") + " for input " + describe(input) + " at " +
                       site.str());
    return batched ? s : s.unsqueeze(0, site);
  };
  const CellState s{state(hx, "hx"), mode == Mode::kLSTM ? state(cx, "cx") : Tensor()};
  const Tensor xp = project_input(mode, x, weight_ih, bias_ih, bias_hh, site);
  CellState next = cell_step(mode, xp, s, weight_hh.t(site), mode == Mode::kGRU ? bias_hh : Tensor(), Tensor(), site);
  if (!batched) {
    next.h = next.h.squeeze(0, site);
    if (next.c.defined()) next.c = next.c.squeeze(0, site);
  }
  return {next.h, next.c};
}

std::string RNNCellBase::extra_repr() const {
  std::string s = std::to_string(input_size) + ", " + std::to_string(hidden_size);
  if (!bias) s += ", bias=false";
  if (mode == Mode::kRNNReLU) s += ", nonlinearity=relu";
  return s;
}

RNNCell::RNNCell(int64_t input_size, int64_t hidden_size, bool bias, std::string nonlinearity, Site site)
    : RNNCellBase(parse_nonlinearity(nonlinearity, "tl::nn::RNNCell", site), input_size, hidden_size, bias, site),
      nonlinearity(std::move(nonlinearity)) {}

Tensor RNNCell::operator()(const Tensor& input, const Tensor& hx, Site site) {
  return call({input, hx}, [&](const std::vector<Tensor>& in) { return forward(in[0], in[1]); }, site);
}

Tensor RNNCell::forward(const Tensor& input, const Tensor& hx) { return step(input, hx, Tensor(), call_site()).h; }

LSTMCell::LSTMCell(int64_t input_size, int64_t hidden_size, bool bias, Site site)
    : RNNCellBase(Mode::kLSTM, input_size, hidden_size, bias, site) {}

LSTMCellOutput LSTMCell::operator()(const Tensor& input, const Tensor& hx, const Tensor& cx, Site site) {
  LSTMCellOutput r;
  r.h = call({input, hx, cx}, [&](const std::vector<Tensor>& in) { return (r = forward(in[0], in[1], in[2])).h; },
             site);
  return r;
}

LSTMCellOutput LSTMCell::forward(const Tensor& input, const Tensor& hx, const Tensor& cx) {
  return step(input, hx, cx, call_site());
}

GRUCell::GRUCell(int64_t input_size, int64_t hidden_size, bool bias, Site site)
    : RNNCellBase(Mode::kGRU, input_size, hidden_size, bias, site) {}

Tensor GRUCell::operator()(const Tensor& input, const Tensor& hx, Site site) {
  return call({input, hx}, [&](const std::vector<Tensor>& in) { return forward(in[0], in[1]); }, site);
}

Tensor GRUCell::forward(const Tensor& input, const Tensor& hx) { return step(input, hx, Tensor(), call_site()).h; }

}  // namespace tl::nn
