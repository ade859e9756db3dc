// Elementwise exports: unwrap -> validate -> call over the pool -> return. No math here.
//   add(y, a, b)            y = a + b
//   mul(y, a, b)            y = a * b
//   axpy(y, alpha, x)       y += alpha * x
//   scale(y, x, alpha)      y = alpha * x
//   reluForward(y, x)       y = max(x, 0)
//   reluBackward(dx, dy, x) dx += dy * (x > 0)
// All arrays have the same length; outputs may be their inputs (in place).
#include "addon.h"
#include "args.h"
#include "../runtime/parallel.h"

namespace kiln {
namespace {

constexpr size_t kAlign = 16;  // floats per 64-byte cache line

// Splits [0, n) over the pool and calls fn(offset, count) on each chunk.
template <typename Fn>
void over_chunks(KilnAddon& k, size_t n, Fn fn) {
  parallel_range(k.pool, n, kMapGrain, kAlign, [&](size_t b, size_t e) { fn(b, e - b); });
}

Napi::Value Binary(const Napi::CallbackInfo& info, const char* op, void (*fn)(float*, const float*, const float*, size_t)) {
  Args args(info, op, 3);
  auto y = args.f32(0, "y"), a = args.f32(1, "a"), b = args.f32(2, "b");
  size_t n = y.ElementLength();
  args.expect_length("a", a, n, "y.length");
  args.expect_length("b", b, n, "y.length");
  args.no_partial_overlap("y", y, "a", a);
  args.no_partial_overlap("y", y, "b", b);
  float *py = y.Data();
  const float *pa = a.Data(), *pb = b.Data();
  over_chunks(KilnAddon::of(info), n, [&](size_t o, size_t c) { fn(py + o, pa + o, pb + o, c); });
  return info.Env().Undefined();
}

Napi::Value Add(const Napi::CallbackInfo& info) { return Binary(info, "add", KilnAddon::of(info).table.add.fn); }
Napi::Value Mul(const Napi::CallbackInfo& info) { return Binary(info, "mul", KilnAddon::of(info).table.mul.fn); }

Napi::Value Axpy(const Napi::CallbackInfo& info) {
  Args args(info, "axpy", 3);
  auto y = args.f32(0, "y");
  float alpha = args.finite_float(1, "alpha");
  auto x = args.f32(2, "x");
  size_t n = y.ElementLength();
  args.expect_length("x", x, n, "y.length");
  args.no_partial_overlap("y", y, "x", x);
  KilnAddon& k = KilnAddon::of(info);
  float* py = y.Data();
  const float* px = x.Data();
  over_chunks(k, n, [&](size_t o, size_t c) { k.table.axpy.fn(py + o, alpha, px + o, c); });
  return info.Env().Undefined();
}

Napi::Value Scale(const Napi::CallbackInfo& info) {
  Args args(info, "scale", 3);
  auto y = args.f32(0, "y"), x = args.f32(1, "x");
  float alpha = args.finite_float(2, "alpha");
  size_t n = y.ElementLength();
  args.expect_length("x", x, n, "y.length");
  args.no_partial_overlap("y", y, "x", x);
  KilnAddon& k = KilnAddon::of(info);
  float* py = y.Data();
  const float* px = x.Data();
  over_chunks(k, n, [&](size_t o, size_t c) { k.table.scale.fn(py + o, px + o, alpha, c); });
  return info.Env().Undefined();
}

Napi::Value ReluForward(const Napi::CallbackInfo& info) {
  Args args(info, "reluForward", 2);
  auto y = args.f32(0, "y"), x = args.f32(1, "x");
  size_t n = y.ElementLength();
  args.expect_length("x", x, n, "y.length");
  args.no_partial_overlap("y", y, "x", x);
  KilnAddon& k = KilnAddon::of(info);
  float* py = y.Data();
  const float* px = x.Data();
  over_chunks(k, n, [&](size_t o, size_t c) { k.table.relu_forward.fn(py + o, px + o, c); });
  return info.Env().Undefined();
}

Napi::Value ReluBackward(const Napi::CallbackInfo& info) {
  Args args(info, "reluBackward", 3);
  auto dx = args.f32(0, "dx"), dy = args.f32(1, "dy"), x = args.f32(2, "x");
  size_t n = dx.ElementLength();
  args.expect_length("dy", dy, n, "dx.length");
  args.expect_length("x", x, n, "dx.length");
  args.no_partial_overlap("dx", dx, "dy", dy);
  args.no_partial_overlap("dx", dx, "x", x);
  KilnAddon& k = KilnAddon::of(info);
  float* pdx = dx.Data();
  const float *pdy = dy.Data(), *px = x.Data();
  over_chunks(k, n, [&](size_t o, size_t c) { k.table.relu_backward.fn(pdx + o, pdy + o, px + o, c); });
  return info.Env().Undefined();
}

}  // namespace

void init_elementwise(Napi::Env env, Napi::Object exports) {
  exports.Set("add", Napi::Function::New(env, Add, "add"));
  exports.Set("mul", Napi::Function::New(env, Mul, "mul"));
  exports.Set("axpy", Napi::Function::New(env, Axpy, "axpy"));
  exports.Set("scale", Napi::Function::New(env, Scale, "scale"));
  exports.Set("reluForward", Napi::Function::New(env, ReluForward, "reluForward"));
  exports.Set("reluBackward", Napi::Function::New(env, ReluBackward, "reluBackward"));
}

}  // namespace kiln
