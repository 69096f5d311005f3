// oneDNN convolution (forward, backward-data, backward-weights) for float32 on the CPU. Tensors stay in plain NCHW/OIHW layouts, so no reorders are needed;
// primitives are created once per geometry and cached for the life of the process.
#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>
#include <oneapi/dnnl/dnnl.hpp>

#include "runtime/cpu/onednn.h"
#include "runtime/cpu/onednn_common.h"

namespace tl::rt::cpu {
namespace {

using dnnl::memory;
constexpr auto kF32 = memory::data_type::f32;

using ConvKey = std::array<int64_t, 17>;  // the geometry plus whether there is a bias

ConvKey conv_key(const Conv2dGeometry& g, bool has_bias) {
  return {g.N, g.C, g.H, g.W, g.O, g.KH, g.KW, g.OH, g.OW, g.stride_h, g.stride_w,
          g.pad_h, g.pad_w, g.dilation_h, g.dilation_w, g.groups, has_bias ? 1 : 0};
}

// The memory descriptors and op descriptor arguments shared by the three conv primitives.
struct ConvDescs {
  memory::desc x, w, b, y;
  memory::dims strides, dilates, padding_l, padding_r;

  explicit ConvDescs(const Conv2dGeometry& g) {
    x = memory::desc({g.N, g.C, g.H, g.W}, kF32, memory::format_tag::nchw);
    y = memory::desc({g.N, g.O, g.OH, g.OW}, kF32, memory::format_tag::nchw);
    if (g.groups == 1) {
      w = memory::desc({g.O, g.C, g.KH, g.KW}, kF32, memory::format_tag::oihw);
    } else {
      // Grouped weights (G, O/G, C/G, KH, KW) have the same bytes as (O, C/G, KH, KW).
      w = memory::desc({g.groups, g.O / g.groups, g.C / g.groups, g.KH, g.KW}, kF32, memory::format_tag::goihw);
    }
    b = memory::desc({g.O}, kF32, memory::format_tag::x);
    strides = {g.stride_h, g.stride_w};
    dilates = {g.dilation_h - 1, g.dilation_w - 1};  // oneDNN counts 0 as "no dilation"
    padding_l = {g.pad_h, g.pad_w};
    // oneDNN checks OH == (H - dilated_KH + pad_l + pad_r) / stride + 1 with integer
    // division, so symmetric padding is consistent with the floor in our output size.
    padding_r = {g.pad_h, g.pad_w};
  }

  dnnl::convolution_forward::primitive_desc forward_pd(bool has_bias) const {
    auto kind = dnnl::prop_kind::forward_training;  // training: usable as a hint for backward
    auto algo = dnnl::algorithm::convolution_direct;
    if (has_bias) {
      return {dnnl::convolution_forward::desc(kind, algo, x, w, b, y, strides, dilates, padding_l, padding_r),
              scratchpad_attr(), engine()};
    }
    return {dnnl::convolution_forward::desc(kind, algo, x, w, y, strides, dilates, padding_l, padding_r),
            scratchpad_attr(), engine()};
  }
};

dnnl::stream& stream() {
  static thread_local dnnl::stream s(engine());
  return s;
}

// Finds or builds the primitive for `key` under one lock; the primitive itself is
// thread-safe to execute concurrently.
template <class Primitive, class Build>
Primitive& cached(std::map<ConvKey, Primitive>& cache, std::mutex& mutex, const ConvKey& key, const Build& build) {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, build()).first;
  return it->second;
}

memory wrap(const memory::desc& md, const float* p) { return memory(md, engine(), const_cast<float*>(p)); }

}  // namespace

namespace {
// Images per single-threaded oneDNN call (see run_jobs_single_threaded): fixed, so results
// do not depend on the thread count.
constexpr int64_t kImagesPerJob = 4;
}  // namespace

void conv2d_forward_f32_chunk(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y) {
  static std::mutex mutex;
  static std::map<ConvKey, dnnl::convolution_forward> cache;
  ConvDescs d(g);
  auto& prim = cached(cache, mutex, conv_key(g, bias != nullptr),
                      [&] { return dnnl::convolution_forward(d.forward_pd(bias != nullptr)); });
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(d.x, x)}, {DNNL_ARG_WEIGHTS, wrap(d.w, w)},
                                       {DNNL_ARG_DST, wrap(d.y, y)}};
  if (bias) args.emplace(DNNL_ARG_BIAS, wrap(d.b, bias));
  args.emplace(DNNL_ARG_SCRATCHPAD, scratchpad_for(prim));
  prim.execute(stream(), args);
  stream().wait();
}

void conv2d_backward_data_f32_chunk(const Conv2dGeometry& g, const float* dy, const float* w, float* dx) {
  static std::mutex mutex;
  static std::map<ConvKey, dnnl::convolution_backward_data> cache;
  ConvDescs d(g);
  auto& prim = cached(cache, mutex, conv_key(g, false), [&] {
    dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, d.x, d.w, d.y, d.strides,
                                               d.dilates, d.padding_l, d.padding_r);
    return dnnl::convolution_backward_data(
        dnnl::convolution_backward_data::primitive_desc(desc, scratchpad_attr(), engine(), d.forward_pd(false)));
  });
  prim.execute(stream(), {{DNNL_ARG_DIFF_DST, wrap(d.y, dy)},
                          {DNNL_ARG_WEIGHTS, wrap(d.w, w)},
                          {DNNL_ARG_DIFF_SRC, wrap(d.x, dx)},
                          {DNNL_ARG_SCRATCHPAD, scratchpad_for(prim)}});
  stream().wait();
}

void conv2d_backward_weights_f32_chunk(const Conv2dGeometry& g, const float* x, const float* dy, float* dw) {
  static std::mutex mutex;
  static std::map<ConvKey, dnnl::convolution_backward_weights> cache;
  ConvDescs d(g);
  auto& prim = cached(cache, mutex, conv_key(g, false), [&] {
    dnnl::convolution_backward_weights::desc desc(dnnl::algorithm::convolution_direct, d.x, d.w, d.y, d.strides,
                                                  d.dilates, d.padding_l, d.padding_r);
    return dnnl::convolution_backward_weights(
        dnnl::convolution_backward_weights::primitive_desc(desc, scratchpad_attr(), engine(), d.forward_pd(false)));
  });
  prim.execute(stream(), {{DNNL_ARG_SRC, wrap(d.x, x)},
                          {DNNL_ARG_DIFF_DST, wrap(d.y, dy)},
                          {DNNL_ARG_DIFF_WEIGHTS, wrap(d.w, dw)},
                          {DNNL_ARG_SCRATCHPAD, scratchpad_for(prim)}});
  stream().wait();
}

void conv2d_forward_f32(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y) {
  int64_t jobs = (g.N + kImagesPerJob - 1) / kImagesPerJob;
  run_jobs_single_threaded(jobs, [&](int64_t j) {
    Conv2dGeometry c = g;
    int64_t n0 = j * kImagesPerJob;
    c.N = std::min(kImagesPerJob, g.N - n0);
    conv2d_forward_f32_chunk(c, x + n0 * g.C * g.H * g.W, w, bias, y + n0 * g.O * g.OH * g.OW);
  });
}

void conv2d_backward_data_f32(const Conv2dGeometry& g, const float* dy, const float* w, float* dx) {
  int64_t jobs = (g.N + kImagesPerJob - 1) / kImagesPerJob;
  run_jobs_single_threaded(jobs, [&](int64_t j) {
    Conv2dGeometry c = g;
    int64_t n0 = j * kImagesPerJob;
    c.N = std::min(kImagesPerJob, g.N - n0);
    conv2d_backward_data_f32_chunk(c, dy + n0 * g.O * g.OH * g.OW, w, dx + n0 * g.C * g.H * g.W);
  });
}

void conv2d_backward_weights_f32(const Conv2dGeometry& g, const float* x, const float* dy, float* dw) {
  int64_t jobs = (g.N + kImagesPerJob - 1) / kImagesPerJob;
  int64_t wsize = g.O * (g.C / g.groups) * g.KH * g.KW;
  if (jobs == 1) {
    run_jobs_single_threaded(1, [&](int64_t) { conv2d_backward_weights_f32_chunk(g, x, dy, dw); });
    return;
  }
  // One partial weight gradient per image chunk, summed in chunk order.
  std::vector<float> partial(static_cast<size_t>(jobs * wsize));
  run_jobs_single_threaded(jobs, [&](int64_t j) {
    Conv2dGeometry c = g;
    int64_t n0 = j * kImagesPerJob;
    c.N = std::min(kImagesPerJob, g.N - n0);
    conv2d_backward_weights_f32_chunk(c, x + n0 * g.C * g.H * g.W, dy + n0 * g.O * g.OH * g.OW,
                                      partial.data() + j * wsize);
  });
  parallel_for(wsize, kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float s = partial[i];
      for (int64_t j = 1; j < jobs; ++j) s += partial[j * wsize + i];
      dw[i] = s;
    }
  });
}

}  // namespace tl::rt::cpu
