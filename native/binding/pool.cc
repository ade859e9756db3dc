// Pooling and the option-A shortcut exports: unwrap -> validate -> call over the pool -> return.
//   maxPool2dForward(y, argmax, x, params)    y = window maxima, argmax = h*W + w in the plane
//   maxPool2dBackward(dx, dy, argmax, params[, overwrite]) dx[plane][argmax] += dy (= with overwrite)
//   avgPool2dForward(y, x, params)            y = window means
//   avgPool2dBackward(dx, dy, params)         dx += dy / divisor over each window
//   globalAvgPool2dForward(y, x, params)      y(n, c) = mean of each (h, w) plane
//   globalAvgPool2dBackward(dx, dy, params)   dx += dy / (h*w)
//   shortcutAForward(y, x, params)            y(n, k, p, q): strided copy into channels offset..
//   shortcutABackward(dx, dy, params)         dx += the strided cells of those channels of dy
// Pool params: n, c, h, w, r, s, strideH, strideW, padH, padW, ceilMode, countIncludePad (read by
// average pooling, accepted by max pooling so that one resolvePool2d result serves both), and
// optionally p, q (what src/tensor/shape.ts resolvePool2d computed; they must agree with ours).
// Backward passes accumulate. Work is split over planes (pooling) or images (shortcut): each
// output element is written by one thread, so results never depend on the thread count.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <string>

#include "addon.h"
#include "args.h"
#include "params.h"
#include "../kernels/kernels.h"
#include "../runtime/parallel.h"

namespace kiln {
namespace {

using std::to_string;

// PyTorch's pooling_output_shape (the same as poolOutputSize in src/tensor/shape.ts). In ceil
// mode the last window must start inside the input or the left padding. The caller checked
// k <= in + 2*pad.
size_t pool_output_size(size_t in, size_t k, size_t stride, size_t pad, bool ceil_mode) {
  size_t out = (in + 2 * pad - k + (ceil_mode ? stride - 1 : 0)) / stride + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

// Optional params.p / params.q: the caller's output size must be ours.
void check_given(const Args& args, const Params& p, const char* key, size_t ours, const char* from) {
  if (!p.has(key)) return;
  size_t given = p.required_size(key);
  if (given != ours) {
    args.range_error(Params::name(key) + " expected " + to_string(ours) + " (the output size for " + from + "), got " +
                     to_string(given));
  }
}

struct Pool {
  Pool2dDims d;
  bool count_include_pad;
  size_t planes, x_len, y_len;
};

Pool read_pool(const Args& args, const Napi::Value& v) {
  Params p(args, v, {"n", "c", "h", "w", "r", "s", "strideH", "strideW", "padH", "padW", "ceilMode",
                     "countIncludePad", "p", "q"});
  Pool2dDims d{};
  d.N = p.required_size("n");
  d.C = p.required_size("c");
  d.H = p.positive_size("h");
  d.W = p.positive_size("w");
  d.R = p.positive_size("r");
  d.S = p.positive_size("s");
  d.stride_h = p.positive_size("strideH");
  d.stride_w = p.positive_size("strideW");
  d.pad_h = p.required_size("padH");
  d.pad_w = p.required_size("padW");
  const bool ceil_mode = p.flag("ceilMode", false);
  const bool count_include_pad = p.flag("countIncludePad", true);
  // PyTorch's limits: padding at most half the window, the window within the padded input
  struct Axis {
    const char *k_name, *pad_name, *in_name;
    size_t k, pad, in;
  };
  for (const Axis& a : {Axis{"r", "padH", "h", d.R, d.pad_h, d.H}, Axis{"s", "padW", "w", d.S, d.pad_w, d.W}}) {
    if (2 * a.pad > a.k) {
      args.range_error(Params::name(a.pad_name) + " expected at most half the window (" + a.k_name + " = " +
                       to_string(a.k) + "), got " + to_string(a.pad));
    }
    if (a.k > a.in + 2 * a.pad) {
      args.range_error(Params::name(a.k_name) + " expected at most the padded input " + a.in_name + " + 2*" +
                       a.pad_name + " = " + to_string(a.in + 2 * a.pad) + ", got " + to_string(a.k));
    }
  }
  d.P = pool_output_size(d.H, d.R, d.stride_h, d.pad_h, ceil_mode);
  d.Q = pool_output_size(d.W, d.S, d.stride_w, d.pad_w, ceil_mode);
  check_given(args, p, "p", d.P, "h, r, strideH, padH, ceilMode");
  check_given(args, p, "q", d.Q, "w, s, strideW, padW, ceilMode");
  const size_t planes = args.mul(d.N, d.C, "n*c");
  return {d, count_include_pad, planes, args.mul(planes, args.mul(d.H, d.W, "h*w"), "n*c*h*w"),
          args.mul(planes, args.mul(d.P, d.Q, "p*q"), "n*c*p*q")};
}

// Splits `items` (planes or images) over the pool; `cost` is the rough work of one item, so that
// a small problem stays on the calling thread.
template <typename Fn>
void over_items(const Napi::CallbackInfo& info, size_t items, size_t cost, Fn fn) {
  const size_t grain = std::max<size_t>(1, kMapGrain / std::max<size_t>(1, cost));
  parallel_range(KilnAddon::of(info).pool, items, grain, 1, fn);
}

size_t pool_cost(const Pool2dDims& d) { return d.H * d.W + d.P * d.Q * d.R * d.S; }

Napi::Value MaxPool2dForward(const Napi::CallbackInfo& info) {
  Args args(info, "maxPool2dForward", 4);
  auto y = args.f32(0, "y");
  auto argmax = args.i32(1, "argmax");
  auto x = args.f32(2, "x");
  const Pool pl = read_pool(args, info[3]);
  if (pl.d.H * pl.d.W > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    args.range_error("h*w = " + to_string(pl.d.H * pl.d.W) + " expected at most 2147483647 (argmax is an Int32Array)");
  }
  args.expect_length("y", y, pl.y_len, "n*c*p*q");
  args.expect_length("argmax", argmax, pl.y_len, "n*c*p*q");
  args.expect_length("x", x, pl.x_len, "n*c*h*w");
  args.disjoint("y", y, "x", x);
  args.disjoint("argmax", argmax, "x", x);
  args.disjoint("argmax", argmax, "y", y);
  float* py = y.Data();
  int32_t* pa = argmax.Data();
  const float* px = x.Data();
  const auto forward = KilnAddon::of(info).table.max_pool_forward.fn;
  over_items(info, pl.planes, pool_cost(pl.d), [&](size_t c0, size_t c1) { forward(py, pa, px, pl.d, c0, c1); });
  return args.undefined();
}

// True if some index in a[0, n) is outside [0, hw): a branch-free scan the compiler vectorizes.
bool any_outside(const int32_t* a, size_t n, size_t hw) {
  bool bad = false;
  for (size_t i = 0; i < n; ++i) bad |= static_cast<uint32_t>(a[i]) >= hw;
  return bad;
}

Napi::Value MaxPool2dBackward(const Napi::CallbackInfo& info) {
  Args args(info, "maxPool2dBackward", 4, 5);
  auto dx = args.f32(0, "dx"), dy = args.f32(1, "dy");
  auto argmax = args.i32(2, "argmax");
  const Pool pl = read_pool(args, info[3]);
  // overwrite: dx holds garbage (a fresh buffer); each plane is zeroed just before its scatter
  const bool overwrite = args.flag(4, "overwrite");
  args.expect_length("dx", dx, pl.x_len, "n*c*h*w");
  args.expect_length("dy", dy, pl.y_len, "n*c*p*q");
  args.expect_length("argmax", argmax, pl.y_len, "n*c*p*q");
  args.disjoint("dx", dx, "dy", dy);
  args.disjoint("argmax", argmax, "dx", dx);
  // NOTE: argmax comes from JS and indexes dx: every index is checked before anything is
  // written, so a stale or corrupted argmax throws instead of scribbling over memory.
  const int32_t* pa = argmax.Data();
  const size_t hw = pl.d.H * pl.d.W;
  std::atomic<bool> bad{false};
  parallel_range(KilnAddon::of(info).pool, pl.y_len, kMapGrain, 16, [&](size_t b, size_t e) {
    if (any_outside(pa + b, e - b, hw)) bad.store(true, std::memory_order_relaxed);
  });
  if (bad.load()) {
    size_t i = 0;
    while (static_cast<uint32_t>(pa[i]) < hw) ++i;
    args.range_error("argmax[" + to_string(i) + "] expected an index in [0, " + to_string(hw) + ") (h*w), got " +
                     to_string(pa[i]));
  }
  float* pdx = dx.Data();
  const float* pdy = dy.Data();
  over_items(info, pl.planes, hw + pl.d.P * pl.d.Q, [&](size_t c0, size_t c1) {
    for (size_t c = c0; c < c1; ++c) {
      if (overwrite) std::fill_n(pdx + c * hw, hw, 0.0f);
      ref::max_pool2d_backward_f32(pdx, pdy, pa, pl.d, c, c + 1);
    }
  });
  return args.undefined();
}

Napi::Value AvgPool2dForward(const Napi::CallbackInfo& info) {
  Args args(info, "avgPool2dForward", 3);
  auto y = args.f32(0, "y"), x = args.f32(1, "x");
  const Pool pl = read_pool(args, info[2]);
  args.expect_length("y", y, pl.y_len, "n*c*p*q");
  args.expect_length("x", x, pl.x_len, "n*c*h*w");
  args.disjoint("y", y, "x", x);
  float* py = y.Data();
  const float* px = x.Data();
  over_items(info, pl.planes, pool_cost(pl.d), [&](size_t c0, size_t c1) {
    ref::avg_pool2d_forward_f32(py, px, pl.d, pl.count_include_pad, c0, c1);
  });
  return args.undefined();
}

Napi::Value AvgPool2dBackward(const Napi::CallbackInfo& info) {
  Args args(info, "avgPool2dBackward", 3);
  auto dx = args.f32(0, "dx"), dy = args.f32(1, "dy");
  const Pool pl = read_pool(args, info[2]);
  args.expect_length("dx", dx, pl.x_len, "n*c*h*w");
  args.expect_length("dy", dy, pl.y_len, "n*c*p*q");
  args.disjoint("dx", dx, "dy", dy);
  float* pdx = dx.Data();
  const float* pdy = dy.Data();
  over_items(info, pl.planes, pool_cost(pl.d), [&](size_t c0, size_t c1) {
    ref::avg_pool2d_backward_f32(pdx, pdy, pl.d, pl.count_include_pad, c0, c1);
  });
  return args.undefined();
}

// Global average pooling: params {n, c, h, w}; planes of h*w floats -> one float each.
struct Planes {
  size_t planes, hw;
};

Planes read_planes(const Args& args, const Napi::Value& v) {
  Params p(args, v, {"n", "c", "h", "w"});
  const size_t n = p.required_size("n"), c = p.required_size("c");
  const size_t h = p.positive_size("h"), w = p.positive_size("w");
  return {args.mul(n, c, "n*c"), args.mul(h, w, "h*w")};
}

Napi::Value GlobalAvgPool2dForward(const Napi::CallbackInfo& info) {
  Args args(info, "globalAvgPool2dForward", 3);
  auto y = args.f32(0, "y"), x = args.f32(1, "x");
  const Planes g = read_planes(args, info[2]);
  args.expect_length("y", y, g.planes, "n*c");
  args.expect_length("x", x, args.mul(g.planes, g.hw, "n*c*h*w"), "n*c*h*w");
  args.disjoint("y", y, "x", x);
  float* py = y.Data();
  const float* px = x.Data();
  // Above ref, the level's vector sum (double across its blocks) per plane: the reference's one
  // double accumulator waits on each add (ResNet-20's head, 8192 planes of 64: 218 us vs
  // PyTorch's 36). Both are the double sum of the plane, rounded once.
  const auto& sum = KilnAddon::of(info).table.sum;
  over_items(info, g.planes, g.hw, [&](size_t c0, size_t c1) {
    if (sum.isa == Isa::ref) return ref::global_avg_pool2d_forward_f32(py, px, g.hw, c0, c1);
    for (size_t i = c0; i < c1; ++i) py[i] = static_cast<float>(sum.fn(px + i * g.hw, g.hw) / static_cast<double>(g.hw));
  });
  return args.undefined();
}

Napi::Value GlobalAvgPool2dBackward(const Napi::CallbackInfo& info) {
  Args args(info, "globalAvgPool2dBackward", 3);
  auto dx = args.f32(0, "dx"), dy = args.f32(1, "dy");
  const Planes g = read_planes(args, info[2]);
  args.expect_length("dx", dx, args.mul(g.planes, g.hw, "n*c*h*w"), "n*c*h*w");
  args.expect_length("dy", dy, g.planes, "n*c");
  args.disjoint("dx", dx, "dy", dy);
  float* pdx = dx.Data();
  const float* pdy = dy.Data();
  over_items(info, g.planes, g.hw,
             [&](size_t c0, size_t c1) { ref::global_avg_pool2d_backward_f32(pdx, pdy, g.hw, c0, c1); });
  return args.undefined();
}

// Shortcut option A: params {n, c, h, w, k, stride, offset}, and optionally p, q (what
// resolveShortcutA computed: ceil(h/stride), ceil(w/stride)).
struct Shortcut {
  ShortcutDims d;
  size_t x_len, y_len;
};

Shortcut read_shortcut(const Args& args, const Napi::Value& v) {
  Params p(args, v, {"n", "c", "h", "w", "k", "stride", "offset", "p", "q"});
  ShortcutDims d{};
  d.N = p.required_size("n");
  d.C = p.required_size("c");
  d.H = p.positive_size("h");
  d.W = p.positive_size("w");
  d.K = p.required_size("k");
  d.stride = p.positive_size("stride");
  d.offset = p.required_size("offset");
  if (d.K < d.C) args.range_error("params.k expected >= c (" + to_string(d.C) + "), got " + to_string(d.K));
  if (d.offset > d.K - d.C) {
    args.range_error("params.offset expected at most k - c = " + to_string(d.K - d.C) + ", got " + to_string(d.offset));
  }
  d.P = (d.H + d.stride - 1) / d.stride;
  d.Q = (d.W + d.stride - 1) / d.stride;
  check_given(args, p, "p", d.P, "ceil(h/stride)");
  check_given(args, p, "q", d.Q, "ceil(w/stride)");
  return {d, args.mul(args.mul(d.N, d.C, "n*c"), args.mul(d.H, d.W, "h*w"), "n*c*h*w"),
          args.mul(args.mul(d.N, d.K, "n*k"), args.mul(d.P, d.Q, "p*q"), "n*k*p*q")};
}

Napi::Value ShortcutAForward(const Napi::CallbackInfo& info) {
  Args args(info, "shortcutAForward", 3);
  auto y = args.f32(0, "y"), x = args.f32(1, "x");
  const Shortcut s = read_shortcut(args, info[2]);
  args.expect_length("y", y, s.y_len, "n*k*p*q");
  args.expect_length("x", x, s.x_len, "n*c*h*w");
  args.disjoint("y", y, "x", x);
  float* py = y.Data();
  const float* px = x.Data();
  over_items(info, s.d.N, s.d.K * s.d.P * s.d.Q,
             [&](size_t n0, size_t n1) { ref::shortcut_a_forward_f32(py, px, s.d, n0, n1); });
  return args.undefined();
}

Napi::Value ShortcutABackward(const Napi::CallbackInfo& info) {
  Args args(info, "shortcutABackward", 3);
  auto dx = args.f32(0, "dx"), dy = args.f32(1, "dy");
  const Shortcut s = read_shortcut(args, info[2]);
  args.expect_length("dx", dx, s.x_len, "n*c*h*w");
  args.expect_length("dy", dy, s.y_len, "n*k*p*q");
  args.disjoint("dx", dx, "dy", dy);
  float* pdx = dx.Data();
  const float* pdy = dy.Data();
  over_items(info, s.d.N, s.d.C * s.d.P * s.d.Q,
             [&](size_t n0, size_t n1) { ref::shortcut_a_backward_f32(pdx, pdy, s.d, n0, n1); });
  return args.undefined();
}

}  // namespace

void init_pool(Napi::Env env, Napi::Object exports) {
  exports.Set("maxPool2dForward", Napi::Function::New(env, MaxPool2dForward, "maxPool2dForward"));
  exports.Set("maxPool2dBackward", Napi::Function::New(env, MaxPool2dBackward, "maxPool2dBackward"));
  exports.Set("avgPool2dForward", Napi::Function::New(env, AvgPool2dForward, "avgPool2dForward"));
  exports.Set("avgPool2dBackward", Napi::Function::New(env, AvgPool2dBackward, "avgPool2dBackward"));
  exports.Set("globalAvgPool2dForward", Napi::Function::New(env, GlobalAvgPool2dForward, "globalAvgPool2dForward"));
  exports.Set("globalAvgPool2dBackward", Napi::Function::New(env, GlobalAvgPool2dBackward, "globalAvgPool2dBackward"));
  exports.Set("shortcutAForward", Napi::Function::New(env, ShortcutAForward, "shortcutAForward"));
  exports.Set("shortcutABackward", Napi::Function::New(env, ShortcutABackward, "shortcutABackward"));
}

}  // namespace kiln
