// Sequence exports (float32 rows over the last axis; backward passes accumulate, +=):
//   layerNormForward(y, mean, rstd, x, gamma, beta, {rows, d, eps = 1e-5})
//   layerNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd, {rows, d})
//   softmaxForward(y, x, {rows, d})            softmaxBackward(dx, dy, y, {rows, d})
//   logSoftmaxForward(y, x, {rows, d})         logSoftmaxBackward(dx, dy, y, {rows, d})
//   crossEntropyForward(lse, logits, targets, {vocab, ignoreIndex = -100, labelSmoothing = 0})
//       -> {loss, count}: the mean loss over the `count` rows not ignored (0 when none is)
//   crossEntropyBackward(dlogits, logits, targets, lse, grad, {vocab, ignoreIndex, labelSmoothing}[, overwrite])
//     overwrite: dlogits holds garbage (a fresh buffer) and is written (ignored rows get zeros)
//   geluForward(y, x, approximate)             geluBackward(dx, dy, x, approximate)   'none' | 'tanh'
//   dropoutForward(y, x, {p, seed, offset = 0}[, residual]) dropoutBackward(dx, dy, {p, seed, offset = 0})
//     residual: y = residual + dropout(x) (a residual connection's add, in the same pass)
//   embeddingForward(y, ids, table, {vocab, d}) embeddingBackward(dtable, ids, dy, {vocab, d})
// gamma/beta null mean 1/0; gradient outputs may be null (skipped). Targets and ids are checked
// before anything is written; the error names the index and the value.
#include <algorithm>
#include <cmath>
#include <string>

#include "addon.h"
#include "args.h"
#include "overwrite.h"
#include "params.h"
#include "../runtime/parallel.h"
#include "../runtime/sequence.h"

namespace kiln {
namespace {

struct Rows {
  size_t rows, d, len;
};

Rows read_rows(const Args& args, const Params& p) {
  Rows r;
  r.rows = p.required_size("rows");
  r.d = p.positive_size("d");
  r.len = args.mul(r.rows, r.d, "rows*d");
  return r;
}

// fn(r0, r1) over row ranges of the pool
template <typename Fn>
void over_rows(KilnAddon& k, const Rows& r, Fn fn) {
  parallel_range(k.pool, r.rows, row_grain(r.d), 1, fn);
}

[[noreturn]] void out_of_memory(const Napi::CallbackInfo& info, const char* op) {
  throw Napi::Error::New(info.Env(), std::string(op) + ": out of memory for the workspace");
}

// ---- layer norm ---------------------------------------------------------------------------------

Napi::Value LayerNormForward(const Napi::CallbackInfo& info) {
  Args args(info, "layerNormForward", 7);
  auto y = args.f32(0, "y"), mean = args.f32(1, "mean"), rstd = args.f32(2, "rstd"), x = args.f32(3, "x");
  auto gamma = args.f32_or_null(4, "gamma"), beta = args.f32_or_null(5, "beta");
  Params p(args, info[6], {"rows", "d", "eps"});
  const Rows r = read_rows(args, p);
  const float eps = p.number("eps", 1e-5f);
  if (!(eps > 0)) args.range_error("params.eps expected a number > 0 (as a float32), got " + describe(p.get("eps")));
  args.expect_length("y", y, r.len, "rows*d");
  args.expect_length("x", x, r.len, "rows*d");
  args.expect_length("mean", mean, r.rows, "rows");
  args.expect_length("rstd", rstd, r.rows, "rows");
  if (!gamma.IsEmpty()) args.expect_length("gamma", gamma, r.d, "d");
  if (!beta.IsEmpty()) args.expect_length("beta", beta, r.d, "d");
  args.no_partial_overlap("y", y, "x", x);
  for (auto* out : {&mean, &rstd}) {
    const char* name = out == &mean ? "mean" : "rstd";
    args.disjoint(name, *out, "y", y);
    args.disjoint(name, *out, "x", x);
  }
  args.disjoint("mean", mean, "rstd", rstd);
  if (!gamma.IsEmpty()) args.disjoint("y", y, "gamma", gamma);
  if (!beta.IsEmpty()) args.disjoint("y", y, "beta", beta);
  KilnAddon& k = KilnAddon::of(info);
  float *py = y.Data(), *pm = mean.Data(), *ps = rstd.Data();
  const float *px = x.Data(), *pg = data_or_null(gamma), *pb = data_or_null(beta);
  const auto fn = k.table.layer_norm_forward.fn;
  over_rows(k, r, [&](size_t r0, size_t r1) {
    fn(py + r0 * r.d, pm + r0, ps + r0, px + r0 * r.d, pg, pb, eps, r1 - r0, r.d);
  });
  return info.Env().Undefined();
}

Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  Args args(info, "layerNormBackward", 9, 10);
  auto dx = args.f32_or_null(0, "dx"), dgamma = args.f32_or_null(1, "dgamma"), dbeta = args.f32_or_null(2, "dbeta");
  auto dy = args.f32(3, "dy"), x = args.f32(4, "x"), gamma = args.f32_or_null(5, "gamma");
  auto mean = args.f32(6, "mean"), rstd = args.f32(7, "rstd");
  Params p(args, info[8], {"rows", "d", "eps"});  // eps is accepted (the forward's params) and unused
  const Rows r = read_rows(args, p);
  // overwrite: dx holds garbage (a fresh buffer) and is written, not added to
  const bool overwrite = args.flag(9, "overwrite");
  if (!dx.IsEmpty()) args.expect_length("dx", dx, r.len, "rows*d");
  args.expect_length("dy", dy, r.len, "rows*d");
  args.expect_length("x", x, r.len, "rows*d");
  if (!gamma.IsEmpty()) args.expect_length("gamma", gamma, r.d, "d");
  args.expect_length("mean", mean, r.rows, "rows");
  args.expect_length("rstd", rstd, r.rows, "rows");
  if (!dgamma.IsEmpty()) args.expect_length("dgamma", dgamma, r.d, "d");
  if (!dbeta.IsEmpty()) args.expect_length("dbeta", dbeta, r.d, "d");
  using Named = std::pair<const char*, Napi::Float32Array*>;
  const Named outs[] = {{"dx", &dx}, {"dgamma", &dgamma}, {"dbeta", &dbeta}};
  const Named ins[] = {{"dy", &dy}, {"x", &x}, {"gamma", &gamma}, {"mean", &mean}, {"rstd", &rstd}};
  for (size_t i = 0; i < 3; ++i) {
    if (outs[i].second->IsEmpty()) continue;
    for (size_t j = i + 1; j < 3; ++j)
      if (!outs[j].second->IsEmpty()) args.disjoint(outs[i].first, *outs[i].second, outs[j].first, *outs[j].second);
    for (const Named& in : ins)
      if (!in.second->IsEmpty()) args.disjoint(outs[i].first, *outs[i].second, in.first, *in.second);
  }
  KilnAddon& k = KilnAddon::of(info);
  if (dx.IsEmpty() && dgamma.IsEmpty() && dbeta.IsEmpty()) return info.Env().Undefined();
  if (!layer_norm_backward(k.pool, k.workspace, k.table.layer_norm_backward.fn, data_or_null(dx), data_or_null(dgamma),
                           data_or_null(dbeta), dy.Data(), x.Data(), data_or_null(gamma), mean.Data(), rstd.Data(),
                           r.rows, r.d, overwrite)) {
    out_of_memory(info, "layerNormBackward");
  }
  return info.Env().Undefined();
}

// ---- softmax, log-softmax -----------------------------------------------------------------------

Napi::Value RowForward(const Napi::CallbackInfo& info, const char* op, void (*fn)(float*, const float*, size_t, size_t)) {
  Args args(info, op, 3);
  auto y = args.f32(0, "y"), x = args.f32(1, "x");
  Params p(args, info[2], {"rows", "d"});
  const Rows r = read_rows(args, p);
  args.expect_length("y", y, r.len, "rows*d");
  args.expect_length("x", x, r.len, "rows*d");
  args.no_partial_overlap("y", y, "x", x);
  float* py = y.Data();
  const float* px = x.Data();
  over_rows(KilnAddon::of(info), r, [&](size_t r0, size_t r1) { fn(py + r0 * r.d, px + r0 * r.d, r1 - r0, r.d); });
  return info.Env().Undefined();
}

Napi::Value RowBackward(const Napi::CallbackInfo& info, const char* op,
                        void (*fn)(float*, const float*, const float*, size_t, size_t)) {
  Args args(info, op, 4);
  auto dx = args.f32(0, "dx"), dy = args.f32(1, "dy"), y = args.f32(2, "y");
  Params p(args, info[3], {"rows", "d"});
  const Rows r = read_rows(args, p);
  args.expect_length("dx", dx, r.len, "rows*d");
  args.expect_length("dy", dy, r.len, "rows*d");
  args.expect_length("y", y, r.len, "rows*d");
  args.disjoint("dx", dx, "dy", dy);
  args.disjoint("dx", dx, "y", y);
  float* pdx = dx.Data();
  const float *pdy = dy.Data(), *py = y.Data();
  over_rows(KilnAddon::of(info), r, [&](size_t r0, size_t r1) {
    fn(pdx + r0 * r.d, pdy + r0 * r.d, py + r0 * r.d, r1 - r0, r.d);
  });
  return info.Env().Undefined();
}

Napi::Value SoftmaxForward(const Napi::CallbackInfo& info) {
  return RowForward(info, "softmaxForward", KilnAddon::of(info).table.softmax_forward.fn);
}
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  return RowBackward(info, "softmaxBackward", KilnAddon::of(info).table.softmax_backward.fn);
}
Napi::Value LogSoftmaxForward(const Napi::CallbackInfo& info) {
  return RowForward(info, "logSoftmaxForward", KilnAddon::of(info).table.log_softmax_forward.fn);
}
Napi::Value LogSoftmaxBackward(const Napi::CallbackInfo& info) {
  return RowBackward(info, "logSoftmaxBackward", KilnAddon::of(info).table.log_softmax_backward.fn);
}

// ---- cross-entropy ------------------------------------------------------------------------------

// The dims, and the number of rows not ignored; every other target must be a class.
CrossEntropyDims read_cross_entropy(const Args& args, const Napi::Value& v, const Napi::Int32Array& targets,
                                    size_t* count) {
  Params p(args, v, {"vocab", "ignoreIndex", "labelSmoothing"});
  CrossEntropyDims d;
  d.V = p.positive_size("vocab");
  d.ignore_index = -100;
  const Napi::Value ig = p.get("ignoreIndex");
  if (!ig.IsUndefined()) {
    const double g = ig.IsNumber() ? ig.As<Napi::Number>().DoubleValue() : NAN;
    if (!ig.IsNumber()) args.type_error("params.ignoreIndex expected an integer, got " + describe(ig));
    if (!(g == std::floor(g) && g >= -2147483648.0 && g <= 2147483647.0)) {
      args.range_error("params.ignoreIndex expected a 32-bit integer, got " + describe(ig));
    }
    d.ignore_index = static_cast<int32_t>(g);
  }
  d.label_smoothing = p.number("labelSmoothing", 0.0f);
  if (!(d.label_smoothing >= 0 && d.label_smoothing <= 1)) {
    args.range_error("params.labelSmoothing expected a number in [0, 1], got " + describe(p.get("labelSmoothing")));
  }
  const int32_t* t = targets.Data();
  size_t n = 0;
  for (size_t i = 0; i < targets.ElementLength(); ++i) {
    if (t[i] == d.ignore_index) continue;
    if (t[i] < 0 || static_cast<size_t>(t[i]) >= d.V) {
      args.range_error("targets[" + std::to_string(i) + "] = " + std::to_string(t[i]) + " is not a class in [0, " +
                       std::to_string(d.V) + ") nor the ignoreIndex " + std::to_string(d.ignore_index));
    }
    ++n;
  }
  *count = n;
  return d;
}

Napi::Value CrossEntropyForward(const Napi::CallbackInfo& info) {
  Args args(info, "crossEntropyForward", 4);
  auto lse = args.f32(0, "lse"), logits = args.f32(1, "logits");
  auto targets = args.i32(2, "targets");
  size_t count = 0;
  const CrossEntropyDims d = read_cross_entropy(args, info[3], targets, &count);
  const size_t rows = targets.ElementLength();
  args.expect_length("logits", logits, args.mul(rows, d.V, "targets.length*vocab"), "targets.length*vocab");
  args.expect_length("lse", lse, args.mul(rows, 2, "2*targets.length"), "2*targets.length");
  args.disjoint("lse", lse, "logits", logits);
  args.disjoint("targets", targets, "lse", lse);
  KilnAddon& k = KilnAddon::of(info);
  double total = 0.0;
  if (!cross_entropy_forward(k.pool, k.workspace, k.table.cross_entropy_forward.fn, &total, lse.Data(), logits.Data(),
                             targets.Data(), d, rows)) {
    out_of_memory(info, "crossEntropyForward");
  }
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("loss", count > 0 ? total / static_cast<double>(count) : 0.0);
  out.Set("count", static_cast<double>(count));
  return out;
}

Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  Args args(info, "crossEntropyBackward", 6, 7);
  const bool overwrite = args.flag(6, "overwrite");
  auto dlogits = args.f32(0, "dlogits"), logits = args.f32(1, "logits");
  auto targets = args.i32(2, "targets");
  auto lse = args.f32(3, "lse");
  const float grad = args.finite_float(4, "grad");
  size_t count = 0;
  const CrossEntropyDims d = read_cross_entropy(args, info[5], targets, &count);
  const size_t rows = targets.ElementLength();
  const size_t len = args.mul(rows, d.V, "targets.length*vocab");
  args.expect_length("dlogits", dlogits, len, "targets.length*vocab");
  args.expect_length("logits", logits, len, "targets.length*vocab");
  args.expect_length("lse", lse, args.mul(rows, 2, "2*targets.length"), "2*targets.length");
  args.disjoint("dlogits", dlogits, "logits", logits);
  args.disjoint("dlogits", dlogits, "lse", lse);
  args.disjoint("targets", targets, "dlogits", dlogits);
  if (count == 0) {  // nothing counted: no gradient (not 0/0)
    if (overwrite) std::fill_n(dlogits.Data(), len, 0.0f);
    return info.Env().Undefined();
  }
  KilnAddon& k = KilnAddon::of(info);
  const float scale = static_cast<float>(static_cast<double>(grad) / static_cast<double>(count));
  float* pd = dlogits.Data();
  const float *pz = logits.Data(), *pl = lse.Data();
  const int32_t* pt = targets.Data();
  const auto fn = k.table.cross_entropy_backward.fn;
  // rows are independent: with overwrite, a few rows at a time are zeroed just before the
  // kernel adds into them (add_into's blocks, rounded to whole rows)
  const size_t step = overwrite ? std::max<size_t>(1, kZeroBlock / d.V) : rows;
  parallel_range(k.pool, rows, row_grain(d.V), 1, [&](size_t r0, size_t r1) {
    for (size_t a = r0; a < r1; a += step) {
      const size_t n = std::min(step, r1 - a);
      if (overwrite) std::fill_n(pd + a * d.V, n * d.V, 0.0f);
      fn(pd + a * d.V, pz + a * d.V, pt + a, pl + 2 * a, scale, d, n);
    }
  });
  return info.Env().Undefined();
}

// ---- GELU, dropout ------------------------------------------------------------------------------

bool read_tanh(const Args& args, const Napi::Value& v) {
  if (v.IsString()) {
    const std::string s = v.As<Napi::String>().Utf8Value();
    if (s == "none") return false;
    if (s == "tanh") return true;
    args.range_error("approximate expected 'none' or 'tanh', got '" + s + "'");
  }
  args.type_error("approximate expected 'none' or 'tanh', got " + describe(v));
}

template <typename Fn>
void over_elements(KilnAddon& k, size_t n, Fn fn) {
  parallel_range(k.pool, n, kMapGrain / 4, 16, [&](size_t b, size_t e) { fn(b, e - b); });
}

Napi::Value GeluForward(const Napi::CallbackInfo& info) {
  Args args(info, "geluForward", 3);
  auto y = args.f32(0, "y"), x = args.f32(1, "x");
  const bool tanh = read_tanh(args, info[2]);
  const size_t n = y.ElementLength();
  args.expect_length("x", x, n, "y.length");
  args.no_partial_overlap("y", y, "x", x);
  KilnAddon& k = KilnAddon::of(info);
  const auto fn = tanh ? k.table.gelu_tanh_forward.fn : k.table.gelu_forward.fn;
  float* py = y.Data();
  const float* px = x.Data();
  over_elements(k, n, [&](size_t o, size_t c) { fn(py + o, px + o, c); });
  return info.Env().Undefined();
}

Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  Args args(info, "geluBackward", 4);
  auto dx = args.f32(0, "dx"), dy = args.f32(1, "dy"), x = args.f32(2, "x");
  const bool tanh = read_tanh(args, info[3]);
  const size_t n = dx.ElementLength();
  args.expect_length("dy", dy, n, "dx.length");
  args.expect_length("x", x, n, "dx.length");
  args.disjoint("dx", dx, "dy", dy);
  args.disjoint("dx", dx, "x", x);
  KilnAddon& k = KilnAddon::of(info);
  const auto fn = tanh ? k.table.gelu_tanh_backward.fn : k.table.gelu_backward.fn;
  float* pdx = dx.Data();
  const float *pdy = dy.Data(), *px = x.Data();
  over_elements(k, n, [&](size_t o, size_t c) { fn(pdx + o, pdy + o, px + o, c); });
  return info.Env().Undefined();
}

struct Dropout {
  DropoutDims d;
  uint64_t offset;
};

Dropout read_dropout(const Args& args, const Napi::Value& v) {
  Params p(args, v, {"p", "seed", "offset"});
  if (!p.has("p")) args.type_error("params.p expected a number in [0, 1], got undefined");
  const Napi::Value pv = p.get("p");
  if (!pv.IsNumber()) args.type_error("params.p expected a number in [0, 1], got " + describe(pv));
  const double prob = pv.As<Napi::Number>().DoubleValue();
  if (!(prob >= 0 && prob <= 1)) args.range_error("params.p expected a number in [0, 1], got " + describe(pv));
  if (!p.has("seed")) args.type_error("params.seed expected a non-negative integer, got undefined");
  Dropout out;
  out.d = make_dropout(prob, p.required_size("seed"));
  out.offset = p.size("offset", 0);
  return out;
}

Napi::Value DropoutForward(const Napi::CallbackInfo& info) {
  Args args(info, "dropoutForward", 3, 4);
  auto y = args.f32(0, "y"), x = args.f32(1, "x");
  const Dropout dr = read_dropout(args, info[2]);
  auto residual = args.f32_or_null(3, "residual");
  const size_t n = y.ElementLength();
  args.expect_length("x", x, n, "y.length");
  args.no_partial_overlap("y", y, "x", x);
  if (!residual.IsEmpty()) {
    args.expect_length("residual", residual, n, "y.length");
    args.disjoint("y", y, "residual", residual);
  }
  KilnAddon& k = KilnAddon::of(info);
  const auto fn = k.table.dropout_forward.fn;
  const auto add = k.table.add.fn;
  float* py = y.Data();
  const float* px = x.Data();
  const float* pr = data_or_null(residual);
  over_elements(k, n, [&](size_t o, size_t c) {
    if (!pr) return fn(py + o, px + o, dr.d, dr.offset + o, c);
    // residual + dropout(x) block by block: the add reads the dropped block back from L1
    each_block(o, c, [&](size_t b, size_t m) {
      fn(py + b, px + b, dr.d, dr.offset + b, m);
      add(py + b, pr + b, py + b, m);
    });
  });
  return info.Env().Undefined();
}

Napi::Value DropoutBackward(const Napi::CallbackInfo& info) {
  Args args(info, "dropoutBackward", 3, 4);
  auto dx = args.f32(0, "dx"), dy = args.f32(1, "dy");
  const Dropout dr = read_dropout(args, info[2]);
  const bool overwrite = args.flag(3, "overwrite");  // overwrite.h
  const size_t n = dx.ElementLength();
  args.expect_length("dy", dy, n, "dx.length");
  args.disjoint("dx", dx, "dy", dy);
  KilnAddon& k = KilnAddon::of(info);
  const auto fn = k.table.dropout_backward.fn;
  float* pdx = dx.Data();
  const float* pdy = dy.Data();
  over_elements(k, n, [&](size_t o, size_t c) {
    add_into(pdx, overwrite, o, c, [&](size_t b, size_t m) { fn(pdx + b, pdy + b, dr.d, dr.offset + b, m); });
  });
  return info.Env().Undefined();
}

// ---- embedding ----------------------------------------------------------------------------------

struct Embed {
  size_t vocab, d;
};

Embed read_embedding(const Args& args, const Napi::Value& v, const Napi::Int32Array& ids) {
  Params p(args, v, {"vocab", "d"});
  Embed e{p.positive_size("vocab"), p.positive_size("d")};
  const int32_t* id = ids.Data();
  for (size_t i = 0; i < ids.ElementLength(); ++i) {
    if (id[i] < 0 || static_cast<size_t>(id[i]) >= e.vocab) {
      args.range_error("ids[" + std::to_string(i) + "] = " + std::to_string(id[i]) + " is outside the vocabulary [0, " +
                       std::to_string(e.vocab) + ")");
    }
  }
  return e;
}

Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
  Args args(info, "embeddingForward", 4);
  auto y = args.f32(0, "y");
  auto ids = args.i32(1, "ids");
  auto table = args.f32(2, "table");
  const Embed e = read_embedding(args, info[3], ids);
  const size_t n = ids.ElementLength();
  args.expect_length("table", table, args.mul(e.vocab, e.d, "vocab*d"), "vocab*d");
  args.expect_length("y", y, args.mul(n, e.d, "ids.length*d"), "ids.length*d");
  args.disjoint("y", y, "table", table);
  args.disjoint("ids", ids, "y", y);
  KilnAddon& k = KilnAddon::of(info);
  float* py = y.Data();
  const int32_t* pi = ids.Data();
  const float* pt = table.Data();
  parallel_range(k.pool, n, row_grain(e.d), 1, [&](size_t i0, size_t i1) {
    ref::embedding_forward_f32(py, pi, pt, e.d, i0, i1);
  });
  return info.Env().Undefined();
}

Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  Args args(info, "embeddingBackward", 4);
  auto dtable = args.f32(0, "dtable");
  auto ids = args.i32(1, "ids");
  auto dy = args.f32(2, "dy");
  const Embed e = read_embedding(args, info[3], ids);
  const size_t n = ids.ElementLength();
  args.expect_length("dtable", dtable, args.mul(e.vocab, e.d, "vocab*d"), "vocab*d");
  args.expect_length("dy", dy, args.mul(n, e.d, "ids.length*d"), "ids.length*d");
  args.disjoint("dtable", dtable, "dy", dy);
  args.disjoint("ids", ids, "dtable", dtable);
  KilnAddon& k = KilnAddon::of(info);
  float* pt = dtable.Data();
  const int32_t* pi = ids.Data();
  const float* pdy = dy.Data();
  // each thread owns a range of the vocabulary and scans every id: a table row is summed by one
  // thread, in the order of the ids, whatever the thread count
  if (n * e.d < kMapGrain) {
    ref::embedding_backward_f32(pt, pi, pdy, n, e.d, 0, e.vocab);
  } else {
    parallel_range(k.pool, e.vocab, 1, 1, [&](size_t v0, size_t v1) { ref::embedding_backward_f32(pt, pi, pdy, n, e.d, v0, v1); });
  }
  return info.Env().Undefined();
}

}  // namespace

void init_sequence(Napi::Env env, Napi::Object exports) {
  exports.Set("layerNormForward", Napi::Function::New(env, LayerNormForward, "layerNormForward"));
  exports.Set("layerNormBackward", Napi::Function::New(env, LayerNormBackward, "layerNormBackward"));
  exports.Set("softmaxForward", Napi::Function::New(env, SoftmaxForward, "softmaxForward"));
  exports.Set("softmaxBackward", Napi::Function::New(env, SoftmaxBackward, "softmaxBackward"));
  exports.Set("logSoftmaxForward", Napi::Function::New(env, LogSoftmaxForward, "logSoftmaxForward"));
  exports.Set("logSoftmaxBackward", Napi::Function::New(env, LogSoftmaxBackward, "logSoftmaxBackward"));
  exports.Set("crossEntropyForward", Napi::Function::New(env, CrossEntropyForward, "crossEntropyForward"));
  exports.Set("crossEntropyBackward", Napi::Function::New(env, CrossEntropyBackward, "crossEntropyBackward"));
  exports.Set("geluForward", Napi::Function::New(env, GeluForward, "geluForward"));
  exports.Set("geluBackward", Napi::Function::New(env, GeluBackward, "geluBackward"));
  exports.Set("dropoutForward", Napi::Function::New(env, DropoutForward, "dropoutForward"));
  exports.Set("dropoutBackward", Napi::Function::New(env, DropoutBackward, "dropoutBackward"));
  exports.Set("embeddingForward", Napi::Function::New(env, EmbeddingForward, "embeddingForward"));
  exports.Set("embeddingBackward", Napi::Function::New(env, EmbeddingBackward, "embeddingBackward"));
}

}  // namespace kiln
