// Elementwise exports: unwrap -> validate -> call over the pool -> return. No math here.
//   add(y, a, b)            y = a + b
//   mul(y, a, b)            y = a * b
//   axpy(y, alpha, x)       y += alpha * x
//   scale(y, x, alpha)      y = alpha * x
//   reluForward(y, x)       y = max(x, 0)
//   reluBackward(dx, dy, x) dx += dy * (x > 0)
//   addRelu(y, a, b)        y = max(a + b, 0)
//   reluBackwardPair(da, db, dy, x)   da += dy * (x > 0), db += dy * (x > 0)
// All arrays have the same length; outputs may be their inputs (in place).
// The two fused ones are a residual block's add + ReLU and its backward (both inputs' gradients):
// the kernels run block by block, the second on data the first just left in L1, so the pair
// costs one pass over memory instead of two; results are bit for bit those of the separate calls.
#include <algorithm>

#include "addon.h"
#include "args.h"
#include "overwrite.h"
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

// Calls fn(offset, count) over [0, n) in blocks of kFuseBlock floats (16 KiB: each of a fused
// op's 3-4 streams stays in L1 between its two kernels), the blocks split over the pool.
constexpr size_t kFuseBlock = 4096;
template <typename Fn>
void over_blocks(KilnAddon& k, size_t n, Fn fn) {
  over_chunks(k, n, [&](size_t o, size_t c) {
    for (size_t b = 0; b < c; b += kFuseBlock) fn(o + b, std::min(kFuseBlock, c - b));
  });
}

Napi::Value ReluBackward(const Napi::CallbackInfo& info) {
  Args args(info, "reluBackward", 3, 4);
  auto dx = args.f32(0, "dx"), dy = args.f32(1, "dy"), x = args.f32(2, "x");
  const bool overwrite = args.flag(3, "overwrite");
  size_t n = dx.ElementLength();
  args.expect_length("dy", dy, n, "dx.length");
  args.expect_length("x", x, n, "dx.length");
  args.no_partial_overlap("dx", dx, "dy", dy);
  args.no_partial_overlap("dx", dx, "x", x);
  KilnAddon& k = KilnAddon::of(info);
  float* pdx = dx.Data();
  const float *pdy = dy.Data(), *px = x.Data();
  const auto fn = k.table.relu_backward.fn;
  if (overwrite && pdx == pdy) {
    // in place (dy = dy where x > 0, else 0): each block is masked into an L1 scratch block and
    // copied back, the bits of writing into a separate buffer
    over_chunks(k, n, [&](size_t o, size_t c) {
      alignas(64) float tmp[kZeroBlock];
      each_block(o, c, [&](size_t b, size_t m) {
        std::memset(tmp, 0, m * sizeof(float));
        fn(tmp, pdy + b, px + b, m);
        std::memcpy(pdx + b, tmp, m * sizeof(float));
      });
    });
    return info.Env().Undefined();
  }
  over_chunks(k, n, [&](size_t o, size_t c) {
    add_into(pdx, overwrite, o, c, [&](size_t b, size_t m) { fn(pdx + b, pdy + b, px + b, m); });
  });
  return info.Env().Undefined();
}

Napi::Value AddRelu(const Napi::CallbackInfo& info) {
  Args args(info, "addRelu", 3);
  auto y = args.f32(0, "y"), a = args.f32(1, "a"), b = args.f32(2, "b");
  size_t n = y.ElementLength();
  args.expect_length("a", a, n, "y.length");
  args.expect_length("b", b, n, "y.length");
  args.no_partial_overlap("y", y, "a", a);
  args.no_partial_overlap("y", y, "b", b);
  KilnAddon& k = KilnAddon::of(info);
  float* py = y.Data();
  const float *pa = a.Data(), *pb = b.Data();
  over_blocks(k, n, [&](size_t o, size_t c) {
    k.table.add.fn(py + o, pa + o, pb + o, c);
    k.table.relu_forward.fn(py + o, py + o, c);
  });
  return info.Env().Undefined();
}

Napi::Value ReluBackwardPair(const Napi::CallbackInfo& info) {
  Args args(info, "reluBackwardPair", 4, 6);
  auto da = args.f32(0, "da"), db = args.f32(1, "db"), dy = args.f32(2, "dy"), x = args.f32(3, "x");
  const bool overwrite_a = args.flag(4, "overwriteA"), overwrite_b = args.flag(5, "overwriteB");
  size_t n = da.ElementLength();
  args.expect_length("db", db, n, "da.length");
  args.expect_length("dy", dy, n, "da.length");
  args.expect_length("x", x, n, "da.length");
  args.no_partial_overlap("da", da, "dy", dy);
  args.no_partial_overlap("da", da, "x", x);
  args.no_partial_overlap("db", db, "dy", dy);
  args.no_partial_overlap("db", db, "x", x);
  // one buffer for both would get the gradient twice, as two calls would; but a partial overlap
  // would depend on the block order
  args.no_partial_overlap("da", da, "db", db);
  // the same buffer twice takes both gradients: overwriting it for b would drop a's
  if (overwrite_b && da.Data() == db.Data()) args.range_error("overwriteB with db the same buffer as da would drop da's gradient");
  KilnAddon& k = KilnAddon::of(info);
  float *pda = da.Data(), *pdb = db.Data();
  const float *pdy = dy.Data(), *px = x.Data();
  over_blocks(k, n, [&](size_t o, size_t c) {
    add_into(pda, overwrite_a, o, c, [&](size_t b, size_t m) { k.table.relu_backward.fn(pda + b, pdy + b, px + b, m); });
    add_into(pdb, overwrite_b, o, c, [&](size_t b, size_t m) { k.table.relu_backward.fn(pdb + b, pdy + b, px + b, m); });
  });
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
  exports.Set("addRelu", Napi::Function::New(env, AddRelu, "addRelu"));
  exports.Set("reluBackwardPair", Napi::Function::New(env, ReluBackwardPair, "reluBackwardPair"));
}

}  // namespace kiln
