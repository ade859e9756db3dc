// Optimizer exports: fused in-place updates of a parameter buffer and its state, and the global
// gradient norm over many buffers (unwrap -> validate -> split over the pool -> return):
//   sgdStep(param, grad, velocity, params)   torch.optim.SGD, dampening 0; velocity may be null
//       params: lr (required), momentum (0), weightDecay (0), nesterov (false), first (false)
//   adamStep(param, grad, m, v, params)      torch.optim.Adam, or AdamW with decoupled: true
//       params: lr (required), step (required, >= 1), beta1 (0.9), beta2 (0.999), eps (1e-8),
//               weightDecay (0), decoupled (false)
//   gradNorm(buffers) -> number              sqrt of the sum of squares over every buffer
//   clipGradNorm(buffers, maxNorm) -> number the norm before clipping (see ClipGradNorm)
// Updates are elementwise: chunks of the pool change nothing. The norm sums fixed blocks of every
// buffer in a fixed order: identical for every thread count.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "addon.h"
#include "args.h"
#include "params.h"
#include "../runtime/parallel.h"

namespace kiln {
namespace {

// A hyper-parameter as a double (a JS number, as PyTorch's Python floats), which must also be a
// finite float32 (the SIMD kernels round it once). Absent: `fallback`, or an error if required.
double hyper(const Args& args, const Params& p, const char* key, double fallback, bool required = false) {
  Napi::Value v = p.get(key);
  if (v.IsUndefined() && !required) return fallback;
  args.finite_float_value(v, Params::name(key).c_str());  // type and range checks, with the usual messages
  return v.As<Napi::Number>().DoubleValue();
}

// [lo, hi) or [lo, inf) when hi is infinite: "params.beta1 expected a number in [0, 1), got number 1"
void expect_in(const Args& args, const Params& p, const char* key, double value, double lo, double hi) {
  if (value >= lo && value < hi) return;
  std::string range = std::isinf(hi) ? "a number >= " + std::to_string(static_cast<int>(lo))
                                     : "a number in [" + std::to_string(static_cast<int>(lo)) + ", " +
                                           std::to_string(static_cast<int>(hi)) + ")";
  args.range_error(Params::name(key) + " expected " + range + ", got " + describe(p.get(key)));
}

constexpr double kInf = HUGE_VAL;
constexpr size_t kAlign = 16;  // floats per 64-byte cache line

SgdStep read_sgd(const Args& args, const Napi::Value& v) {
  Params p(args, v, {"lr", "momentum", "weightDecay", "nesterov", "first"});
  SgdStep s;
  s.lr = hyper(args, p, "lr", 0.0, true);
  expect_in(args, p, "lr", s.lr, 0, kInf);
  s.momentum = hyper(args, p, "momentum", 0.0);
  expect_in(args, p, "momentum", s.momentum, 0, kInf);
  s.weight_decay = hyper(args, p, "weightDecay", 0.0);
  expect_in(args, p, "weightDecay", s.weight_decay, 0, kInf);
  s.nesterov = p.flag("nesterov");
  s.first = p.flag("first");
  // as PyTorch: "Nesterov momentum requires a momentum and zero dampening"
  if (s.nesterov && s.momentum == 0.0) args.range_error("params.nesterov expected params.momentum > 0, got 0");
  return s;
}

Napi::Value SgdStep_(const Napi::CallbackInfo& info) {
  Args args(info, "sgdStep", 4);
  auto param = args.f32(0, "param"), grad = args.f32(1, "grad");
  auto velocity = args.f32_or_null(2, "velocity");
  const SgdStep s = read_sgd(args, info[3]);
  const size_t n = param.ElementLength();
  args.expect_length("grad", grad, n, "param.length");
  if (s.momentum != 0.0 && velocity.IsEmpty()) {
    args.type_error("velocity expected Float32Array when params.momentum is not 0, got null");
  }
  if (!velocity.IsEmpty()) {
    args.expect_length("velocity", velocity, n, "param.length");
    args.disjoint("velocity", velocity, "param", param);
    args.disjoint("velocity", velocity, "grad", grad);
  }
  args.disjoint("param", param, "grad", grad);
  KilnAddon& k = KilnAddon::of(info);
  float* pp = param.Data();
  float* pv = s.momentum != 0.0 ? velocity.Data() : nullptr;  // the kernel never touches it otherwise
  const float* pg = grad.Data();
  parallel_range(k.pool, n, kMapGrain, kAlign, [&](size_t b, size_t e) {
    k.table.sgd_step.fn(pp + b, pv ? pv + b : nullptr, pg + b, s, e - b);
  });
  return info.Env().Undefined();
}

AdamStep read_adam(const Args& args, const Napi::Value& v) {
  Params p(args, v, {"lr", "step", "beta1", "beta2", "eps", "weightDecay", "decoupled"});
  AdamStep s;
  s.lr = hyper(args, p, "lr", 0.0, true);
  expect_in(args, p, "lr", s.lr, 0, kInf);
  const size_t step = p.positive_size("step");
  s.beta1 = hyper(args, p, "beta1", 0.9);
  expect_in(args, p, "beta1", s.beta1, 0, 1);
  s.beta2 = hyper(args, p, "beta2", 0.999);
  expect_in(args, p, "beta2", s.beta2, 0, 1);
  s.eps = hyper(args, p, "eps", 1e-8);
  expect_in(args, p, "eps", s.eps, 0, kInf);
  s.weight_decay = hyper(args, p, "weightDecay", 0.0);
  expect_in(args, p, "weightDecay", s.weight_decay, 0, kInf);
  s.decoupled = p.flag("decoupled");
  adam_step_constants(s, static_cast<double>(step));
  return s;
}

Napi::Value AdamStep_(const Napi::CallbackInfo& info) {
  Args args(info, "adamStep", 5);
  auto param = args.f32(0, "param"), grad = args.f32(1, "grad"), m = args.f32(2, "m"), v = args.f32(3, "v");
  const AdamStep s = read_adam(args, info[4]);
  const size_t n = param.ElementLength();
  args.expect_length("grad", grad, n, "param.length");
  args.expect_length("m", m, n, "param.length");
  args.expect_length("v", v, n, "param.length");
  args.disjoint("param", param, "grad", grad);
  args.disjoint("param", param, "m", m);
  args.disjoint("param", param, "v", v);
  args.disjoint("m", m, "v", v);
  args.disjoint("m", m, "grad", grad);
  args.disjoint("v", v, "grad", grad);
  KilnAddon& k = KilnAddon::of(info);
  float *pp = param.Data(), *pm = m.Data(), *pv = v.Data();
  const float* pg = grad.Data();
  parallel_range(k.pool, n, kMapGrain, kAlign, [&](size_t b, size_t e) {
    k.table.adam_step.fn(pp + b, pm + b, pv + b, pg + b, s, e - b);
  });
  return info.Env().Undefined();
}

// ---- the global gradient norm --------------------------------------------------------------

// A piece of one buffer: every buffer is cut into pieces of a fixed size, the same for every
// thread count, and the pieces are spread over the pool.
struct Piece {
  float* data;
  size_t n;
};

std::vector<Napi::Float32Array> f32_list(const Args& args, const Napi::Value& v, const char* name) {
  if (!v.IsArray()) args.type_error(std::string(name) + " expected an Array of Float32Array, got " + describe(v));
  Napi::Array a = v.As<Napi::Array>();
  std::vector<Napi::Float32Array> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    out.push_back(args.f32_value(a.Get(i), (std::string(name) + "[" + std::to_string(i) + "]").c_str()));
  }
  return out;
}

std::vector<Piece> pieces(const std::vector<Napi::Float32Array>& buffers, size_t size, size_t* total) {
  std::vector<Piece> out;
  *total = 0;
  for (Napi::Float32Array b : buffers) {  // a handle copy: Data() of a const handle is const
    const size_t n = b.ElementLength();
    for (size_t o = 0; o < n; o += size) out.push_back({b.Data() + o, std::min(size, n - o)});
    *total += n;
  }
  return out;
}

// fn(piece index) for every piece, over the pool when there is enough work to pay for it.
template <typename Fn>
void over_pieces(KilnAddon& k, const std::vector<Piece>& ps, size_t total, Fn fn) {
  if (total <= kMapGrain) {
    for (size_t i = 0; i < ps.size(); ++i) fn(i);
    return;
  }
  parallel_range(k.pool, ps.size(), 1, 1, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) fn(i);
  });
}

// sqrt of the sum of squares of every buffer: squares in float (as PyTorch), sums in double,
// block partials (kReduceBlock floats of one buffer each) added in order. For one buffer this is
// exactly sqrt(sumsq(x)).
double global_norm(KilnAddon& k, const std::vector<Napi::Float32Array>& buffers) {
  size_t total = 0;
  const std::vector<Piece> ps = pieces(buffers, kReduceBlock, &total);
  std::vector<double> partial(ps.size());
  over_pieces(k, ps, total, [&](size_t i) { partial[i] = k.table.sumsq.fn(ps[i].data, ps[i].n); });
  double s = 0.0;
  for (double v : partial) s += v;
  return std::sqrt(s);
}

Napi::Value GradNorm(const Napi::CallbackInfo& info) {
  Args args(info, "gradNorm", 1);
  const std::vector<Napi::Float32Array> buffers = f32_list(args, info[0], "buffers");
  return Napi::Number::New(info.Env(), global_norm(KilnAddon::of(info), buffers));
}

// As torch.nn.utils.clip_grad_norm_: norm = the global L2 norm; coef = maxNorm / (norm + 1e-6);
// when coef < 1 every buffer is multiplied by coef (rounded to float). Returns the norm.
// NOTE: a NaN or infinite norm is returned and nothing is scaled. PyTorch would multiply every
// gradient by NaN (or by 0, turning Inf entries into NaN) and so destroy the evidence; here the
// caller sees the non-finite norm and decides (skip the step, stop the run).
Napi::Value ClipGradNorm(const Napi::CallbackInfo& info) {
  Args args(info, "clipGradNorm", 2);
  const std::vector<Napi::Float32Array> buffers = f32_list(args, info[0], "buffers");
  const double max_norm = args.finite_float(1, "maxNorm");
  if (!(max_norm >= 0)) args.range_error("maxNorm expected a number >= 0, got " + describe(info[1]));
  // The buffers are scaled in place: two views of the same memory would be scaled twice.
  std::vector<size_t> order;
  for (size_t i = 0; i < buffers.size(); ++i)
    if (buffers[i].ElementLength() > 0) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return buffers[a].Data() < buffers[b].Data(); });
  for (size_t j = 1; j < order.size(); ++j) {
    const Napi::Float32Array &lo = buffers[order[j - 1]], &hi = buffers[order[j]];
    if (hi.Data() < lo.Data() + lo.ElementLength()) {
      size_t a = std::min(order[j - 1], order[j]), b = std::max(order[j - 1], order[j]);
      args.range_error("buffers[" + std::to_string(b) + "] expected not to overlap buffers[" + std::to_string(a) +
                       "], got overlapping memory");
    }
  }
  KilnAddon& k = KilnAddon::of(info);
  const double norm = global_norm(k, buffers);
  const double coef = max_norm / (norm + 1e-6);
  if (std::isfinite(norm) && coef < 1.0) {
    const float c = static_cast<float>(coef);
    size_t total = 0;
    const std::vector<Piece> ps = pieces(buffers, kMapGrain, &total);
    over_pieces(k, ps, total, [&](size_t i) { k.table.scale.fn(ps[i].data, ps[i].data, c, ps[i].n); });
  }
  return Napi::Number::New(info.Env(), norm);
}

}  // namespace

void init_optim(Napi::Env env, Napi::Object exports) {
  exports.Set("sgdStep", Napi::Function::New(env, SgdStep_, "sgdStep"));
  exports.Set("adamStep", Napi::Function::New(env, AdamStep_, "adamStep"));
  exports.Set("gradNorm", Napi::Function::New(env, GradNorm, "gradNorm"));
  exports.Set("clipGradNorm", Napi::Function::New(env, ClipGradNorm, "clipGradNorm"));
}

}  // namespace kiln
