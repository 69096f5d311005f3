// The process-wide oneDNN CPU engine (internal to runtime/cpu).
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

namespace tl::rt::cpu {

inline dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

}  // namespace tl::rt::cpu
