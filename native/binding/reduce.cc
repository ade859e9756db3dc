// Reduction exports:
//   sum(x) -> number              sum of x
//   sumsq(x) -> number            sum of x^2
//   columnSum(y, x, rows, cols)   y(cols) += column sums of x(rows, cols)
// sum/sumsq return doubles; their value is identical for every thread count (fixed blocks).
#include "addon.h"
#include "args.h"
#include "../runtime/parallel.h"

namespace kiln {
namespace {

Napi::Value Reduce(const Napi::CallbackInfo& info, const char* op, double (*fn)(const float*, size_t)) {
  Args args(info, op, 1);
  auto x = args.f32(0, "x");
  const float* px = x.Data();
  double s = parallel_sum(KilnAddon::of(info).pool, x.ElementLength(),
                          [&](size_t b, size_t e) { return fn(px + b, e - b); });
  return Napi::Number::New(info.Env(), s);
}

Napi::Value Sum(const Napi::CallbackInfo& info) { return Reduce(info, "sum", KilnAddon::of(info).table.sum.fn); }
Napi::Value Sumsq(const Napi::CallbackInfo& info) { return Reduce(info, "sumsq", KilnAddon::of(info).table.sumsq.fn); }

Napi::Value ColumnSum(const Napi::CallbackInfo& info) {
  Args args(info, "columnSum", 4);
  auto y = args.f32(0, "y"), x = args.f32(1, "x");
  size_t rows = args.size(2, "rows"), cols = args.size(3, "cols");
  size_t n = args.mul(rows, cols, "rows*cols");
  args.expect_length("y", y, cols, "cols");
  args.expect_length("x", x, n, "rows*cols");
  args.disjoint("y", y, "x", x);
  KilnAddon& k = KilnAddon::of(info);
  float* py = y.Data();
  const float* px = x.Data();
  // Columns are independent: split them, and every column is summed by one thread in row order.
  // Chunks are whole 64-column strips (the widest SIMD strip) so that no strip is cut in two.
  size_t grain = rows == 0 ? cols : std::max<size_t>(64, kMapGrain / rows);
  parallel_range(k.pool, cols, grain, 64, [&](size_t c0, size_t c1) {
    k.table.column_sum.fn(py + c0, px + c0, rows, c1 - c0, cols);
  });
  return info.Env().Undefined();
}

}  // namespace

void init_reduce(Napi::Env env, Napi::Object exports) {
  exports.Set("sum", Napi::Function::New(env, Sum, "sum"));
  exports.Set("sumsq", Napi::Function::New(env, Sumsq, "sumsq"));
  exports.Set("columnSum", Napi::Function::New(env, ColumnSum, "columnSum"));
}

}  // namespace kiln
