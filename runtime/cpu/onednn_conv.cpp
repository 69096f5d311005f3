// oneDNN convolution (forward, backward-data, backward-weights) for float32 on the CPU.
// Callers' tensors are plain NCHW/OIHW. oneDNN's direct AVX2 kernels (jit:avx2) run on
// channel-blocked layouts (nChw8c activations, 8x8-blocked weights) and are 1.5-3x faster
// than its im2col+GEMM kernel on plain layouts, so each primitive is created with its
// layouts left to oneDNN, and reorders convert at its edges: weights once per call,
// activations per job. Primitives and reorders are created once per geometry and cached.
#include <algorithm>
#include <array>
#include <functional>
#include <tuple>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>
#include <oneapi/dnnl/dnnl.hpp>

#include "runtime/cpu/onednn.h"
#include "runtime/cpu/onednn_common.h"

namespace tl::rt::cpu {
namespace {

using dnnl::memory;
constexpr auto kF32 = memory::data_type::f32;

// Images per single-threaded oneDNN call (see run_jobs_single_threaded): fixed, so results
// do not depend on the thread count. Small batches also keep a job's activations in L2:
// per image, the blocked kernels run 1.5-2x faster on 4 images than on 64.
constexpr int64_t kImagesPerJob = 4;

using ConvKey = std::array<int64_t, 20>;  // the geometry, whether there is a bias, the epilogue, layouts

ConvKey conv_key(const Conv2dGeometry& g, bool has_bias, bool relu = false, bool residual = false, int blocked = 0) {
  return {g.N,          g.C,          g.H,          g.W,         g.O,      g.KH,          g.KW,
          g.OH,         g.OW,         g.stride_h,   g.stride_w,  g.pad_h,  g.pad_w,       g.dilation_h,
          g.dilation_w, g.groups,     has_bias ? 1 : 0, relu ? 1 : 0, residual ? 1 : 0, blocked};
}

// The memory descriptors and op descriptor arguments shared by the three conv primitives:
// the plain layouts, or (`any`) layouts left for oneDNN to choose.
struct ConvDescs {
  memory::desc x, w, b, y;
  memory::dims strides, dilates, padding_l, padding_r;

  ConvDescs(const Conv2dGeometry& g, bool any) {
    using tag = memory::format_tag;
    x = memory::desc({g.N, g.C, g.H, g.W}, kF32, any ? tag::any : tag::nchw);
    y = memory::desc({g.N, g.O, g.OH, g.OW}, kF32, any ? tag::any : tag::nchw);
    if (g.groups == 1) {
      w = memory::desc({g.O, g.C, g.KH, g.KW}, kF32, any ? tag::any : tag::oihw);
    } else {
      // Grouped weights (G, O/G, C/G, KH, KW) have the same bytes as (O, C/G, KH, KW).
      w = memory::desc({g.groups, g.O / g.groups, g.C / g.groups, g.KH, g.KW}, kF32, any ? tag::any : tag::goihw);
    }
    b = memory::desc({g.O}, kF32, tag::x);
    strides = {g.stride_h, g.stride_w};
    dilates = {g.dilation_h - 1, g.dilation_w - 1};  // oneDNN counts 0 as "no dilation"
    padding_l = {g.pad_h, g.pad_w};
    // oneDNN checks OH == (H - dilated_KH + pad_l + pad_r) / stride + 1 with integer
    // division, so symmetric padding is consistent with the floor in our output size.
    padding_r = {g.pad_h, g.pad_w};
  }

  // The epilogue as post-ops: the residual (already in the destination) summed, then relu.
  dnnl::convolution_forward::primitive_desc forward_pd(bool has_bias, bool relu = false, bool residual = false) const {
    auto kind = dnnl::prop_kind::forward_training;  // training: usable as a hint for backward
    auto algo = dnnl::algorithm::convolution_direct;
    dnnl::primitive_attr attr = scratchpad_attr();
    if (relu || residual) {
      dnnl::post_ops post;
      if (residual) post.append_sum(1.0f);
      if (relu) post.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      attr.set_post_ops(post);
    }
    if (has_bias) {
      return {dnnl::convolution_forward::desc(kind, algo, x, w, b, y, strides, dilates, padding_l, padding_r), attr,
              engine()};
    }
    return {dnnl::convolution_forward::desc(kind, algo, x, w, y, strides, dilates, padding_l, padding_r), attr,
            engine()};
  }
};

dnnl::stream& stream() {
  static thread_local dnnl::stream s(engine());
  return s;
}

memory wrap(const memory::desc& md, const float* p) { return memory(md, engine(), const_cast<float*>(p)); }

// Roles of the memory objects a plan or an operand keeps per thread (thread_memory).
enum Role : int { kRolePlain, kRoleUsed, kRoleFrom, kRoleTo, kRoleWeights, kRoleBias };

// This thread's oneDNN memory object for (`owner`, `role`), created on first use with `md`
// and pointed at `data` on every use. Plans and operands live in a cache that never erases,
// so their addresses identify them. Creating memory objects and argument maps per call
// allocated on every convolution; kept per thread, a call allocates nothing once warm.
memory& thread_memory(const void* owner, int role, const memory::desc& md, const void* data) {
  struct Key {
    const void* owner;
    int role;
    bool operator==(const Key&) const = default;
  };
  struct Hash {
    size_t operator()(const Key& k) const { return std::hash<const void*>()(k.owner) * 31u + static_cast<size_t>(k.role); }
  };
  thread_local std::unordered_map<Key, memory, Hash> objects;
  auto [it, fresh] = objects.try_emplace(Key{owner, role});
  if (fresh) it->second = memory(md, engine(), nullptr);
  it->second.set_data_handle(const_cast<void*>(data));
  return it->second;
}

// This thread's argument map for running `p` on behalf of `owner` (its scratchpad included).
struct BoundArgs {
  std::unordered_map<int, memory> args;
  size_t scratchpad_bytes = 0;
};
BoundArgs& thread_args(const void* owner, const dnnl::primitive& p) {
  thread_local std::unordered_map<const void*, BoundArgs> maps;
  auto [it, fresh] = maps.try_emplace(owner);
  if (fresh) {
    memory::desc md = scratchpad_desc(p);
    it->second.scratchpad_bytes = md.get_size();
    it->second.args.emplace(DNNL_ARG_SCRATCHPAD, memory(md, engine(), nullptr));
  }
  return it->second;
}

// Runs a cached primitive on this thread with `bound`'s arguments and waits.
void execute(const dnnl::primitive& p, BoundArgs& bound) {
  // The thread's scratchpad may have grown (and moved) for another primitive since.
  bound.args.at(DNNL_ARG_SCRATCHPAD).set_data_handle(thread_scratchpad(bound.scratchpad_bytes));
  execute_primitive(p, stream(), bound.args);
  stream().wait();
}

// One operand of a primitive: the caller's plain layout and the layout the primitive uses.
// `convert` reorders plain -> used for an input and used -> plain for an output; it is
// unset when the two match.
struct Operand {
  memory::desc plain, used;
  std::optional<dnnl::reorder> convert;
  bool is_input = true;

  Operand() = default;
  Operand(const memory::desc& plain_md, const memory::desc& used_md, bool input)
      : plain(plain_md), used(used_md), is_input(input) {
    if (plain == used) return;
    convert.emplace(dnnl::reorder::primitive_desc(engine(), is_input ? plain : used, engine(),
                                                  is_input ? used : plain, scratchpad_attr()));
  }
  bool is_plain() const { return !convert; }
  size_t used_floats() const { return used.get_size() / sizeof(float); }

  // Reorders `from` (plain for an input, used for an output) into `to` (the other layout).
  void reorder(const float* from, float* to) const {
    BoundArgs& bound = thread_args(this, *convert);
    bound.args[DNNL_ARG_FROM] = thread_memory(this, kRoleFrom, is_input ? plain : used, from);
    bound.args[DNNL_ARG_TO] = thread_memory(this, kRoleTo, is_input ? used : plain, to);
    execute(*convert, bound);
  }
};

// A conv primitive for one job's images and its three operands (x, w, y: the convolution's
// input, weights and output, whichever of them this primitive reads or writes).
struct ConvPlan {
  dnnl::primitive primitive;
  Operand x, w, y;
  memory::desc bias;  // plain (O): kept here so a call builds no descriptor
  Operand residual;   // forward with a residual: plain -> the destination's layout
};

// Which primitive a plan runs.
enum class Direction { kForward, kBackwardData, kBackwardWeights };

// oneDNN's blocked AVX2 kernels pad channels to multiples of 8; their backward passes are
// slower than GEMM on plain layouts when a group has fewer than 8 input channels (up to
// 4x for a single channel, measured with oneDNN 2.6 on AVX2). The forward pass has a
// kernel for few input channels (plain input, blocked output) and is always faster.
bool prefers_blocked(const Conv2dGeometry& g, Direction d) {
  return d == Direction::kForward || g.C / g.groups >= 8;
}

// A plan whose primitive is created with layouts `any` (oneDNN picks) or plain.
ConvPlan make_plan(const Conv2dGeometry& g, bool has_bias, Direction d, bool any, bool relu = false,
                   bool residual = false, int blocked = 0) {
  ConvDescs plain(g, false), desc(g, any);
  const bool forward = d == Direction::kForward;
  // The caller's layouts: NCHW, or nChw8c for the operands it holds blocked.
  const memory::desc x_blocked({g.N, g.C, g.H, g.W}, kF32, memory::format_tag::nChw8c);
  const memory::desc y_blocked({g.N, g.O, g.OH, g.OW}, kF32, memory::format_tag::nChw8c);
  if (blocked & kBlockedInput) plain.x = x_blocked;
  const memory::desc residual_plain = (blocked & kBlockedResidual) ? y_blocked : plain.y;
  if (blocked & kBlockedOutput) plain.y = y_blocked;
  auto hint = desc.forward_pd(has_bias && forward, relu && forward, residual && forward);
  auto algo = dnnl::algorithm::convolution_direct;
  switch (d) {
    case Direction::kForward:
      return {dnnl::convolution_forward(hint), Operand(plain.x, hint.src_desc(), true),
              Operand(plain.w, hint.weights_desc(), true), Operand(plain.y, hint.dst_desc(), false), plain.b,
              residual ? Operand(residual_plain, hint.dst_desc(), true) : Operand()};
    case Direction::kBackwardData: {
      dnnl::convolution_backward_data::primitive_desc pd(
          dnnl::convolution_backward_data::desc(algo, desc.x, desc.w, desc.y, desc.strides, desc.dilates,
                                                desc.padding_l, desc.padding_r),
          scratchpad_attr(), engine(), hint);
      return {dnnl::convolution_backward_data(pd), Operand(plain.x, pd.diff_src_desc(), false),
              Operand(plain.w, pd.weights_desc(), true), Operand(plain.y, pd.diff_dst_desc(), true)};
    }
    case Direction::kBackwardWeights: {
      dnnl::convolution_backward_weights::primitive_desc pd(
          dnnl::convolution_backward_weights::desc(algo, desc.x, desc.w, desc.y, desc.strides, desc.dilates,
                                                   desc.padding_l, desc.padding_r),
          scratchpad_attr(), engine(), hint);
      return {dnnl::convolution_backward_weights(pd), Operand(plain.x, pd.src_desc(), true),
              Operand(plain.w, pd.diff_weights_desc(), false), Operand(plain.y, pd.diff_dst_desc(), true)};
    }
  }
  return {};
}

bool is_reference_impl(const dnnl::primitive& p) {
  const char* impl = nullptr;
  dnnl_primitive_desc_query(p.get_primitive_desc(), dnnl_query_impl_info_str, 0, &impl);
  return impl && std::strncmp(impl, "ref", 3) == 0;
}

// The cached plan for `g` (one job's images) in direction `d`, for primitives that run on
// one thread (threads == 1) or split their work over `threads` OpenMP threads.
const ConvPlan& plan_for(const Conv2dGeometry& g, bool has_bias, Direction d, int threads = 1, bool relu = false,
                         bool residual = false, int blocked = 0) {
  static std::mutex mutex;
  static std::map<std::tuple<ConvKey, Direction, int>, ConvPlan> cache;
  std::lock_guard<std::mutex> lock(mutex);
  const bool forward = d == Direction::kForward;
  auto key = std::make_tuple(conv_key(g, has_bias && forward, relu && forward, residual && forward, blocked), d, threads);
  auto it = cache.find(key);
  if (it == cache.end()) {
    std::optional<SingleThreadedScope> single_threaded;  // as the plan's primitives run
    if (threads == 1) single_threaded.emplace();
    ConvPlan plan = make_plan(g, has_bias, d, prefers_blocked(g, d), relu, residual, blocked);
    // With layouts left open, a geometry no optimized kernel takes could end on oneDNN's
    // reference kernel; the plain layouts then give GEMM a chance.
    if (is_reference_impl(plan.primitive)) plan = make_plan(g, has_bias, d, false, relu, residual, blocked);
    it = cache.emplace(key, std::move(plan)).first;
  }
  return it->second;
}

// This thread's scratch buffer number `slot` (0-2: an operand in a primitive's layout; 3-4:
// a call's weights in the full and the tail job's layout),
// with room for at least `floats` floats. A thread runs one job at a time.
float* job_buffer(int slot, size_t floats) {
  thread_local std::array<std::vector<float>, 5> buffers;
  std::vector<float>& b = buffers[static_cast<size_t>(slot)];
  if (b.size() < floats) b.resize(floats);
  return b.data();
}

// The geometry of job `j`: images [j * kImagesPerJob, ...) of `g`.
Conv2dGeometry job_geometry(const Conv2dGeometry& g, int64_t j) {
  Conv2dGeometry c = g;
  c.N = std::min(kImagesPerJob, g.N - j * kImagesPerJob);
  return c;
}

int64_t job_count(const Conv2dGeometry& g) { return (g.N + kImagesPerJob - 1) / kImagesPerJob; }

// The plans of a call: one for full jobs and, when N is not a multiple of kImagesPerJob
// and there is more than one job, one for the last.
struct CallPlans {
  const ConvPlan* full;
  const ConvPlan* tail;

  CallPlans(const Conv2dGeometry& g, bool has_bias, Direction d, int threads = 1, bool relu = false,
            bool residual = false, int blocked = 0) {
    int64_t jobs = job_count(g);
    full = &plan_for(job_geometry(g, 0), has_bias, d, threads, relu, residual, blocked);
    tail = jobs > 1 && g.N % kImagesPerJob != 0
               ? &plan_for(job_geometry(g, jobs - 1), has_bias, d, threads, relu, residual, blocked)
               : nullptr;
  }
  const ConvPlan& of_job(const Conv2dGeometry& g, int64_t j) const {
    return tail && j == job_count(g) - 1 ? *tail : *full;
  }
};

// Weights already reordered into a primitive's layout, kept while the storage that holds
// them is alive and unwritten: inference calls (and every call between two optimizer steps)
// reorder each weight tensor once instead of on every call. An entry is replaced when its
// weights change; entries of freed storages are dropped as new ones arrive.
class PackedWeightsCache {
 public:
  // The packed copy of `w` for `op`, made by `pack` when missing or stale. The returned
  // buffer stays valid while the caller holds it, even if another call replaces the entry.
  // (A template, not std::function: a warm call must not allocate.)
  template <class Pack>
  std::shared_ptr<const std::vector<float>> get(const WeightsIdentity& id, const Operand& op, const float* w,
                                                const Pack& pack) {
    std::shared_ptr<const void> owner = id.storage.lock();
    const Key key{owner.get(), w, &op};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = entries_.find(key);
      // The same live storage (not a new one at a reused address) at the same version.
      if (it != entries_.end() && it->second.version == id.version && it->second.storage.lock() == owner) {
        return it->second.packed;
      }
    }
    auto packed = std::make_shared<std::vector<float>>(op.used_floats());
    pack(packed->data());
    std::lock_guard<std::mutex> lock(mutex_);
    if (++inserts_ % 64 == 0) drop_expired();
    bytes_ += packed->size() * sizeof(float);
    auto [it, fresh] = entries_.try_emplace(key);
    if (!fresh) bytes_ -= it->second.packed->size() * sizeof(float);
    it->second = {id.storage, id.version, packed};
    if (bytes_ > kMaxBytes) {  // a bound, not a policy: inference working sets are far smaller
      entries_.clear();
      bytes_ = 0;
    }
    return packed;
  }

 private:
  struct Key {
    const void* storage;
    const float* data;
    const Operand* op;
    bool operator<(const Key& o) const { return std::tie(storage, data, op) < std::tie(o.storage, o.data, o.op); }
  };
  struct Entry {
    std::weak_ptr<const void> storage;
    uint64_t version = 0;
    std::shared_ptr<const std::vector<float>> packed;
  };
  void drop_expired() {
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.storage.expired()) {
        bytes_ -= it->second.packed->size() * sizeof(float);
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }
  static constexpr size_t kMaxBytes = size_t{4} << 30;
  std::mutex mutex_;
  std::map<Key, Entry> entries_;
  size_t bytes_ = 0;
  uint64_t inserts_ = 0;
};

PackedWeightsCache& packed_weights() {
  static PackedWeightsCache* cache = new PackedWeightsCache();  // outlives every caller
  return *cache;
}

// The weights `w` (plain) in the layout of each plan of a call: reordered once per call, or
// taken from the packed-weights cache when the caller identifies them.
class PreparedWeights {
 public:
  // The reordered weights go to the calling thread's buffers 3 and 4, which the jobs (on any
  // thread) only read, and which this thread does not reuse before the call ends.
  PreparedWeights(const CallPlans& plans, const float* w, const WeightsIdentity* reuse = nullptr, int threads = 1) {
    full_ = prepare(plans.full->w, w, 3, reuse, threads, held_full_);
    tail_ = !plans.tail ? nullptr
            : plans.tail->w.used == plans.full->w.used ? full_
                                                       : prepare(plans.tail->w, w, 4, reuse, threads, held_tail_);
  }
  const float* of(const CallPlans& plans, const ConvPlan& plan) const { return &plan == plans.full ? full_ : tail_; }

 private:
  static const float* prepare(const Operand& op, const float* w, int slot, const WeightsIdentity* reuse, int threads,
                              std::shared_ptr<const std::vector<float>>& held) {
    if (op.is_plain()) return w;
    auto pack = [&](float* to) {
      std::optional<SingleThreadedScope> single_threaded;  // reorders run as they were created
      if (threads == 1) single_threaded.emplace();
      op.reorder(w, to);
    };
    if (reuse) {
      held = packed_weights().get(*reuse, op, w, pack);
      return held->data();
    }
    float* buffer = job_buffer(slot, op.used_floats());
    pack(buffer);
    return buffer;
  }
  std::shared_ptr<const std::vector<float>> held_full_, held_tail_;
  const float* full_ = nullptr;
  const float* tail_ = nullptr;
};

// An activation input of one job in the primitive's layout: `plain` itself, or its
// reordered copy in this thread's buffer `slot`.
const memory& job_input(const Operand& op, const float* plain, int slot) {
  if (op.is_plain()) return thread_memory(&op, kRolePlain, op.plain, plain);
  float* buffer = job_buffer(slot, op.used_floats());
  op.reorder(plain, buffer);
  return thread_memory(&op, kRoleUsed, op.used, buffer);
}

// An activation output of one job: written in place when the layouts match, else into this
// thread's buffer `slot` and reordered to `plain` by finish_output.
const memory& job_output(const Operand& op, float* plain, int slot) {
  if (op.is_plain()) return thread_memory(&op, kRolePlain, op.plain, plain);
  return thread_memory(&op, kRoleUsed, op.used, job_buffer(slot, op.used_floats()));
}
void finish_output(const Operand& op, const memory& written, float* plain) {
  if (!op.is_plain()) op.reorder(static_cast<const float*>(written.get_data_handle()), plain);
}

}  // namespace

void conv2d_forward_f32(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y,
                        const WeightsIdentity* reuse, ConvEpilogue epilogue) {
  // Fewer jobs than threads (small batches: inference): each job's primitive splits its
  // output over the threads instead. A forward convolution computes each output element on
  // one thread whatever the split (tests/runtime checks results are bitwise equal at 1 and 2
  // threads), so results still do not depend on the thread count.
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const bool split_jobs = threads > 1 && job_count(g) < threads;
  CallPlans plans(g, bias != nullptr, Direction::kForward, split_jobs ? threads : 1, epilogue.relu,
                  epilogue.residual != nullptr, epilogue.blocked);
  PreparedWeights weights(plans, w, reuse, split_jobs ? threads : 1);
  auto run_jobs = [&](int64_t jobs, const auto& job) {
    if (!split_jobs) return run_jobs_single_threaded(jobs, job);
    for (int64_t j = 0; j < jobs; ++j) job(j);
  };
  run_jobs(job_count(g), [&](int64_t j) {
    const ConvPlan& plan = plans.of_job(g, j);
    int64_t n0 = j * kImagesPerJob;
    float* yj = y + n0 * g.O * g.OH * g.OW;
    const memory& out = job_output(plan.y, yj, 1);
    if (epilogue.residual) {
      // The sum post-op adds what the destination holds: the residual, in its layout.
      const float* rj = epilogue.residual + n0 * g.O * g.OH * g.OW;
      float* dst = static_cast<float*>(out.get_data_handle());
      if (plan.residual.is_plain()) {
        std::memcpy(dst, rj, static_cast<size_t>(job_geometry(g, j).N * g.O * g.OH * g.OW) * sizeof(float));
      } else {
        plan.residual.reorder(rj, dst);
      }
    }
    BoundArgs& bound = thread_args(&plan, plan.primitive);
    bound.args[DNNL_ARG_SRC] = job_input(plan.x, x + n0 * g.C * g.H * g.W, 0);
    bound.args[DNNL_ARG_WEIGHTS] = thread_memory(&plan, kRoleWeights, plan.w.used, weights.of(plans, plan));
    bound.args[DNNL_ARG_DST] = out;
    if (bias) bound.args[DNNL_ARG_BIAS] = thread_memory(&plan, kRoleBias, plan.bias, bias);
    execute(plan.primitive, bound);
    finish_output(plan.y, out, yj);
  });
}

void conv2d_backward_data_f32(const Conv2dGeometry& g, const float* dy, const float* w, float* dx) {
  CallPlans plans(g, false, Direction::kBackwardData);
  PreparedWeights weights(plans, w);
  run_jobs_single_threaded(job_count(g), [&](int64_t j) {
    const ConvPlan& plan = plans.of_job(g, j);
    int64_t n0 = j * kImagesPerJob;
    float* dxj = dx + n0 * g.C * g.H * g.W;
    const memory& out = job_output(plan.x, dxj, 1);
    BoundArgs& bound = thread_args(&plan, plan.primitive);
    bound.args[DNNL_ARG_DIFF_DST] = job_input(plan.y, dy + n0 * g.O * g.OH * g.OW, 0);
    bound.args[DNNL_ARG_WEIGHTS] = thread_memory(&plan, kRoleWeights, plan.w.used, weights.of(plans, plan));
    bound.args[DNNL_ARG_DIFF_SRC] = out;
    execute(plan.primitive, bound);
    finish_output(plan.x, out, dxj);
  });
}

void conv2d_backward_weights_f32(const Conv2dGeometry& g, const float* x, const float* dy, float* dw) {
  CallPlans plans(g, false, Direction::kBackwardWeights);
  int64_t jobs = job_count(g);
  // Job j's partial gradient, in `layout`: the primitives' own layout when every job uses
  // the same one, else plain (each job then reorders its partial).
  const Operand& full_w = plans.full->w;
  bool sum_plain = plans.tail && plans.tail->w.used != full_w.used;
  const memory::desc& layout = sum_plain ? full_w.plain : full_w.used;
  auto layout_floats = static_cast<int64_t>(layout.get_size() / sizeof(float));
  auto run_job = [&](int64_t j, float* partial) {
    const ConvPlan& plan = plans.of_job(g, j);
    int64_t n0 = j * kImagesPerJob;
    bool direct = plan.w.used == layout;
    memory out = direct ? wrap(layout, partial) : wrap(plan.w.used, job_buffer(2, plan.w.used_floats()));
    BoundArgs& bound = thread_args(&plan, plan.primitive);
    bound.args[DNNL_ARG_SRC] = job_input(plan.x, x + n0 * g.C * g.H * g.W, 0);
    bound.args[DNNL_ARG_DIFF_DST] = job_input(plan.y, dy + n0 * g.O * g.OH * g.OW, 1);
    bound.args[DNNL_ARG_DIFF_WEIGHTS] = out;
    execute(plan.primitive, bound);
    if (!direct) plan.w.reorder(static_cast<const float*>(out.get_data_handle()), partial);
  };
  if (jobs == 1) {
    if (full_w.is_plain()) {
      run_jobs_single_threaded(1, [&](int64_t) { run_job(0, dw); });
      return;
    }
    std::vector<float> blocked(static_cast<size_t>(layout_floats));
    run_jobs_single_threaded(1, [&](int64_t) {
      run_job(0, blocked.data());
      full_w.reorder(blocked.data(), dw);
    });
    return;
  }
  // One partial per job, summed in job order element by element (padding included: oneDNN
  // writes zeros there).
  std::vector<float> partial(static_cast<size_t>(jobs * layout_floats));
  run_jobs_single_threaded(jobs, [&](int64_t j) { run_job(j, partial.data() + j * layout_floats); });
  bool to_plain = !sum_plain && !full_w.is_plain();
  std::vector<float> blocked(to_plain ? static_cast<size_t>(layout_floats) : 0);
  float* sum = to_plain ? blocked.data() : dw;
  parallel_for(layout_floats, kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float s = partial[i];
      for (int64_t j = 1; j < jobs; ++j) s += partial[j * layout_floats + i];
      sum[i] = s;
    }
  });
  if (to_plain) run_jobs_single_threaded(1, [&](int64_t) { full_w.reorder(blocked.data(), dw); });
}

}  // namespace tl::rt::cpu
