// Every sample of every op in the op table, compiled: the traced program run by the reference
// executor gives the eager output, and the gradients the autodiff pass builds from the op
// table's derivative rules equal eager autograd's. New ops are covered automatically.
#include <catch2/catch.hpp>

#include <sstream>

#include "tests/support/op_samples.h"
#include "tl/autograd.h"
#include "tl/compile.h"
#include "tl/random.h"

using namespace tl;

namespace {
constexpr uint64_t kSeed = 99;

struct Result {
  Tensor out;
  std::vector<Tensor> grads;
};

std::vector<Tensor> take_grads(const std::vector<Tensor>& in) {
  std::vector<Tensor> grads;
  for (const Tensor& t : in) {
    grads.push_back(t.requires_grad() ? t.grad() : Tensor());
    if (t.requires_grad()) const_cast<Tensor&>(t).set_grad(Tensor());
  }
  return grads;
}

std::string compare(const Result& eager, const Result& compiled) {
  if (!allclose(compiled.out.to(kFloat64), eager.out.to(kFloat64), 1e-9, 1e-12)) return "outputs differ";
  for (size_t i = 0; i < eager.grads.size(); ++i) {
    if (eager.grads[i].defined() != compiled.grads[i].defined()) {
      return "gradient " + std::to_string(i) + (eager.grads[i].defined() ? " missing" : " unexpected");
    }
    if (eager.grads[i].defined() && !allclose(compiled.grads[i], eager.grads[i], 1e-9, 1e-12)) {
      return "gradient " + std::to_string(i) + " differs";
    }
  }
  return {};
}
}  // namespace

TEST_CASE("compile sweep: every op's compiled output and gradients equal eager", "[compile][sweep]") {
  int checked = 0;
  std::ostringstream failures;
  for (const ops::OpDef* op : ops::all_ops()) {
    for (size_t k = 0; k < op->samples.size(); ++k) {
      const ops::Sample& s = op->samples[k];
      bool diff = op->grad != nullptr;
      std::vector<Tensor> in = test::make_inputs(s, test::seed_for(op->name, k), diff);
      manual_seed(kSeed);
      Tensor probe = s.call(in);
      Tensor w = is_floating(probe.dtype()) ? rand(probe.shape(), {.dtype = probe.dtype()}) + 0.5 : Tensor();
      take_grads(in);
      auto body = [&]() {
        Tensor out = s.call(in);
        if (w.defined() && out.requires_grad()) sum(mul(out, w)).backward();
        return out;
      };
      Result eager;
      manual_seed(kSeed);
      eager.out = body();
      eager.grads = take_grads(in);

      auto compiled_fn = compile(body, {.name = op->name, .warmup_calls = 0});
      Result compiled;
      try {
        manual_seed(kSeed);
        compiled_fn();  // traces (runs eagerly)
        take_grads(in);
        manual_seed(kSeed);
        compiled.out = compiled_fn();
        compiled.grads = take_grads(in);
      } catch (const Error& e) {
        failures << op->name << " sample " << k << ": " << e.what() << "\n";
        continue;
      }
      std::string why = compiled_fn.stats().compiled_calls == 1 ? compare(eager, compiled)
                                                               : "did not compile: " + explain(compiled_fn);
      if (!why.empty()) failures << op->name << " sample " << k << ": " << why << "\n";
      ++checked;
    }
  }
  INFO(failures.str());
  CHECK(failures.str().empty());
  CHECK(checked > 100);
}
