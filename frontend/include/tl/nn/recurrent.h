// Recurrent layers with PyTorch's names, arguments, parameter layouts and initialization: RNN,
// LSTM and GRU (stacked, bidirectional, over variable-length sequences) and their one-step cells.
// All are composites of op-table ops, so they differentiate, trace and compile as those do; a
// traced call unrolls the time loop. docs/nn.md, "Recurrent layers".
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tl/nn/module.h"
#include "tl/tensor.h"

namespace tl::nn {

// The length of each sequence of a padded batch, as torch's pack_padded_sequence takes them: an
// integer tensor [N] (an input of a compiled call, read again at every call) or host values
// (constants of a trace). Default: every sequence has the full length L.
class SequenceLengths {
 public:
  SequenceLengths() = default;
  SequenceLengths(Tensor lengths) : tensor_(std::move(lengths)) {}
  SequenceLengths(std::vector<int64_t> lengths) : values_(std::move(lengths)) {}
  SequenceLengths(std::initializer_list<int64_t> lengths) : values_(std::vector<int64_t>(lengths)) {}
  bool defined() const { return tensor_.defined() || values_.has_value(); }
  // The lengths as a tensor (host values become an int64 CPU tensor); undefined when none.
  Tensor to_tensor(Site site = Site::here()) const;

 private:
  Tensor tensor_;
  std::optional<std::vector<int64_t>> values_;
};

// What RNN, LSTM and GRU return. D = 2 when bidirectional, else 1; H_out = proj_size when an
// LSTM has one, else hidden_size.
struct RecurrentOutput {
  // (L, N, D * H_out); (N, L, D * H_out) with batch_first; (L, D * H_out) for unbatched input.
  // Zero at the steps past a sequence's length.
  Tensor output;
  // (num_layers * D, N, H_out), or (num_layers * D, H_out) unbatched: each layer and
  // direction's last state, taken at each sequence's last valid step (at step 0 for the
  // reverse direction).
  Tensor h_n;
  // LSTM only: the cell states, (num_layers * D, N, hidden_size); undefined for RNN and GRU.
  Tensor c_n;
};

// One layer and direction's parameters. G = 1 (RNN), 4 (LSTM: gates i, f, g, o), 3 (GRU: r, z, n).
struct RecurrentWeights {
  Tensor weight_ih;         // [G * hidden_size, the layer's input features]
  Tensor weight_hh;         // [G * hidden_size, H_out]
  Tensor bias_ih, bias_hh;  // [G * hidden_size]; undefined without bias
  Tensor weight_hr;         // LSTM with proj_size: [proj_size, hidden_size]; else undefined
};

struct RNNOptions {
  int64_t num_layers = 1;
  std::string nonlinearity = "tanh";  // or "relu"
  bool bias = true;
  bool batch_first = false;  // (N, L, H_in); false: (L, N, H_in), as PyTorch's default
  double dropout = 0.0;      // on each layer's output but the last, in training
  bool bidirectional = false;
};

struct LSTMOptions {
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;
  double dropout = 0.0;
  bool bidirectional = false;
  int64_t proj_size = 0;  // > 0: h is projected to proj_size features by weight_hr (< hidden_size)
};

struct GRUOptions {
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;
  double dropout = 0.0;
  bool bidirectional = false;
};

// What RNN, LSTM and GRU share (torch.nn.RNNBase): the parameters, named as PyTorch's so its
// state dict loads by name, in its order: for each layer k and direction, weight_ih_l{k},
// weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}, weight_hr_l{k} (LSTM with proj_size), with the
// suffix "_reverse" for the reverse direction. All are U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
//
// A forward computes each layer and direction's input projection for all steps with one matmul
// and then runs the recurrence step by step. With `lengths`, each step blends the new state
// with the old by a per-sequence mask (the state stops changing past a sequence's end, and its
// outputs there are zero), which gives torch's pack_padded_sequence results without reordering
// the batch. Inputs: `input` (L, N, H_in), (N, L, H_in) with batch_first, or unbatched
// (L, H_in); `h0` (num_layers * D, N, H_out) or (num_layers * D, H_out) unbatched, zeros when
// undefined; `lengths` N values in [1, L] (1 value for unbatched input), checked on the host in
// eager and traced calls (not again by a compiled call). Backward keeps every step's gates.
// Throws ShapeError naming the expected and given shapes when input, h0, c0 or lengths do not
// fit, and DTypeError for a non-floating input, states of another dtype or non-integer lengths.
class RNNBase : public Module {
 public:
  // The recurrence, as PyTorch's `mode`.
  enum class Mode { kRNNTanh, kRNNReLU, kLSTM, kGRU };

  std::string extra_repr() const override;
  int64_t num_directions() const { return bidirectional ? 2 : 1; }

  Mode mode;
  int64_t input_size, hidden_size, num_layers;
  bool bias, batch_first;
  double dropout;
  bool bidirectional;
  int64_t proj_size;                     // 0 but for an LSTM with a projection
  std::vector<RecurrentWeights> weights;  // [layer * num_directions() + direction]

 protected:
  RNNBase(Mode mode, int64_t input_size, int64_t hidden_size, int64_t num_layers, bool bias, bool batch_first,
          double dropout, bool bidirectional, int64_t proj_size, Site site);
  // The forward of every subclass; `c0` is used by LSTM only.
  RecurrentOutput run(const Tensor& input, const Tensor& h0, const Tensor& c0, const Tensor& lengths, Site site);
};

// torch.nn.RNN: h_t = nonlinearity(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), tanh or relu.
// Throws ValueError for a non-positive size or num_layers, dropout outside [0, 1] or an unknown
// nonlinearity.
class RNN : public RNNBase {
 public:
  RNN(int64_t input_size, int64_t hidden_size, RNNOptions options = {}, Site site = Site::here());
  // Runs with the module's hooks (they see and may replace `output`).
  RecurrentOutput operator()(const Tensor& input, const Tensor& h0 = {}, const SequenceLengths& lengths = {},
                             Site site = Site::here());
  RecurrentOutput forward(const Tensor& input, const Tensor& h0, const Tensor& lengths = {});
  // The output sequence alone (so an RNN can sit in a Sequential).
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()).output; }

  std::string nonlinearity;
};

// torch.nn.LSTM: gates i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of x_t W_ih^T + b_ih +
// h_{t-1} W_hh^T + b_hh; c_t = f * c_{t-1} + i * g; h_t = o * tanh(c_t) (then h_t W_hr^T with
// proj_size). `c0` is (num_layers * D, N, hidden_size) (unbatched: without N), zeros when
// undefined; h0 and c0 may be given independently. Throws ValueError as RNN's, and for
// proj_size outside [0, hidden_size).
class LSTM : public RNNBase {
 public:
  LSTM(int64_t input_size, int64_t hidden_size, LSTMOptions options = {}, Site site = Site::here());
  RecurrentOutput operator()(const Tensor& input, const Tensor& h0 = {}, const Tensor& c0 = {},
                             const SequenceLengths& lengths = {}, Site site = Site::here());
  RecurrentOutput forward(const Tensor& input, const Tensor& h0, const Tensor& c0 = {}, const Tensor& lengths = {});
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()).output; }
};

// torch.nn.GRU: r = sigmoid(x_t W_ir^T + b_ir + h W_hr^T + b_hr), z likewise, n = tanh(x_t W_in^T
// + b_in + r * (h W_hn^T + b_hn)), h_t = (1 - z) * n + z * h_{t-1}. Throws ValueError as RNN's.
class GRU : public RNNBase {
 public:
  GRU(int64_t input_size, int64_t hidden_size, GRUOptions options = {}, Site site = Site::here());
  RecurrentOutput operator()(const Tensor& input, const Tensor& h0 = {}, const SequenceLengths& lengths = {},
                             Site site = Site::here());
  RecurrentOutput forward(const Tensor& input, const Tensor& h0, const Tensor& lengths = {});
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()).output; }
};

// What LSTMCell returns (and, with `c` undefined, what the other cells compute).
struct LSTMCellOutput {
  Tensor h, c;  // (N, hidden_size), or (hidden_size) for unbatched input
};

// What the cells share (torch.nn.RNNCellBase): parameters weight_ih [G * hidden_size,
// input_size], weight_hh [G * hidden_size, hidden_size], bias_ih and bias_hh [G * hidden_size]
// (undefined without bias), all U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)). Inputs are
// (N, input_size) or unbatched (input_size); states (N, hidden_size) or (hidden_size), zeros
// when undefined. Throws ShapeError naming the expected and given shapes, and ValueError for a
// non-positive size (RNNCell: also for an unknown nonlinearity).
class RNNCellBase : public Module {
 public:
  std::string extra_repr() const override;

  RNNBase::Mode mode;
  int64_t input_size, hidden_size;
  bool bias;
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;

 protected:
  RNNCellBase(RNNBase::Mode mode, int64_t input_size, int64_t hidden_size, bool bias, Site site);
  // One step from `input` and the states `hx` and `cx` (LSTMCell only), checked and batched.
  LSTMCellOutput step(const Tensor& input, const Tensor& hx, const Tensor& cx, Site site) const;
};

// torch.nn.RNNCell: h' = nonlinearity(x W_ih^T + b_ih + h W_hh^T + b_hh), "tanh" or "relu".
class RNNCell : public RNNCellBase {
 public:
  RNNCell(int64_t input_size, int64_t hidden_size, bool bias = true, std::string nonlinearity = "tanh",
          Site site = Site::here());
  Tensor operator()(const Tensor& input, const Tensor& hx = {}, Site site = Site::here());
  Tensor forward(const Tensor& input, const Tensor& hx);
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()); }

  std::string nonlinearity;
};

// torch.nn.LSTMCell: one step of LSTM's recurrence (gates i, f, g, o).
class LSTMCell : public RNNCellBase {
 public:
  LSTMCell(int64_t input_size, int64_t hidden_size, bool bias = true, Site site = Site::here());
  // Runs with the module's hooks (they see and may replace `h`).
  LSTMCellOutput operator()(const Tensor& input, const Tensor& hx = {}, const Tensor& cx = {},
                            Site site = Site::here());
  LSTMCellOutput forward(const Tensor& input, const Tensor& hx, const Tensor& cx = {});
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()).h; }
};

// torch.nn.GRUCell: one step of GRU's recurrence (gates r, z, n).
class GRUCell : public RNNCellBase {
 public:
  GRUCell(int64_t input_size, int64_t hidden_size, bool bias = true, Site site = Site::here());
  Tensor operator()(const Tensor& input, const Tensor& hx = {}, Site site = Site::here());
  Tensor forward(const Tensor& input, const Tensor& hx);
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()); }
};

}  // namespace tl::nn
