// Fused scaled dot-product attention exports (float32; backward accumulates):
//   attentionForward(out, lse, q, k, v, params)
//   attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, params[, overwrite])
//     overwrite: dq, dk, dv hold garbage (fresh buffers) and are written, not added to
// params (unknown keys are rejected):
//   b, h, tq, tk, d    batch, heads, query and key lengths, head size (d <= 1024)
//   layout             'bhtd' (default): q (b, h, tq, d), k/v (b, h, kvCapacity, d);
//                      'bthd': q (b, tq, h, d), k/v (b, kvCapacity, h, d) (the Linear layers' layout)
//   kvCapacity         the T axis k and v are stored with (a decoding cache); default tk; keys
//                      past tk are never read
//   causal             query i sees keys j <= i + tk - tq (default false)
//   keyLengths         Int32Array(b): keys at or past keyLengths[b] are padding
//   scale              default 1/sqrt(d)
//   dropout, seed      probability in [0, 1) of dropping each attention probability; the mask is
//                      a hash of seed and position (backward must get the same seed)
//   packed             self-attention on one projection's output: q is (b, t, 3, h, d) holding
//                      q, k and v in each row (dq likewise their gradients); k, v, dk, dv are
//                      null; needs layout 'bthd', tq == tk and no kvCapacity. out stays (b, t, h, d)
// lse is (b, h, tq): what backward needs from the forward. dq, dk, dv may be null (skipped).
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string>
#include <utility>

#include "addon.h"
#include "args.h"
#include "params.h"
#include "../runtime/attention.h"

namespace kiln {
namespace {

struct Call {
  AttentionDims d;
  bool packed;
  size_t cap, q_len, out_len, kv_len, lse_len;
  Napi::Int32Array key_lengths;
};

Call read_params(const Args& args, const Napi::Value& v) {
  Params p(args, v, {"b", "h", "tq", "tk", "d", "layout", "kvCapacity", "causal", "keyLengths", "scale", "dropout", "seed", "packed"});
  Call call;
  AttentionDims& d = call.d;
  d.B = p.required_size("b");
  d.H = p.positive_size("h");
  d.Tq = p.required_size("tq");
  d.Tk = p.required_size("tk");
  d.D = p.positive_size("d");
  if (d.D > 1024) args.range_error("params.d expected a head size of at most 1024, got " + std::to_string(d.D));
  const size_t cap = call.cap = p.size("kvCapacity", d.Tk);
  if (cap < d.Tk) {
    args.range_error("params.kvCapacity expected at least tk (" + std::to_string(d.Tk) + "), got " + std::to_string(cap));
  }
  const size_t hd = args.mul(d.H, d.D, "h*d");
  call.out_len = call.q_len = args.mul(args.mul(d.B, d.Tq, "b*tq"), hd, "b*h*tq*d");
  call.kv_len = args.mul(args.mul(d.B, cap, "b*kvCapacity"), hd, "b*h*kvCapacity*d");
  call.lse_len = args.mul(args.mul(d.B, d.H, "b*h"), d.Tq, "b*h*tq");
  const bool bhtd = p.choice("layout", {"bhtd", "bthd"}) == "bhtd";
  call.packed = p.flag("packed");
  if (call.packed) {
    if (!p.has("layout") || bhtd) args.range_error("params.packed expected layout 'bthd'");
    if (d.Tq != d.Tk) args.range_error("params.packed expected tq == tk (self-attention), got " + std::to_string(d.Tq) + " and " + std::to_string(d.Tk));
    if (p.has("kvCapacity") && cap != d.Tk) args.range_error("params.packed expected no kvCapacity past tk");
    call.q_len = args.mul(call.out_len, 3, "3*b*tq*h*d");
    call.kv_len = 0;
    d.q = d.kv = {d.Tq * 3 * hd, d.D, 3 * hd};
    d.o = {d.Tq * hd, d.D, hd};
  } else if (bhtd) {
    d.q = {d.H * d.Tq * d.D, d.Tq * d.D, d.D};
    d.kv = {d.H * cap * d.D, cap * d.D, d.D};
    d.o = d.q;
  } else {
    d.q = {d.Tq * hd, d.D, hd};
    d.kv = {cap * hd, d.D, hd};
    d.o = d.q;
  }
  d.causal = p.flag("causal");
  d.scale = p.has("scale") ? args.finite_float_value(p.get("scale"), "params.scale")
                           : static_cast<float>(1.0 / std::sqrt(static_cast<double>(d.D)));
  d.dropout = p.number("dropout", 0.0f);
  if (!(d.dropout >= 0 && d.dropout < 1)) {
    args.range_error("params.dropout expected a probability in [0, 1), got " + describe(p.get("dropout")));
  }
  d.drop = make_dropout(d.dropout, p.size("seed", 0));
  d.key_lengths = nullptr;
  if (p.has("keyLengths") && !p.get("keyLengths").IsNull()) {
    call.key_lengths = args.i32_value(p.get("keyLengths"), "params.keyLengths");
    args.expect_length("params.keyLengths", call.key_lengths, d.B, "b");
    const int32_t* len = call.key_lengths.Data();
    for (size_t i = 0; i < d.B; ++i) {
      if (len[i] < 0 || static_cast<size_t>(len[i]) > d.Tk) {
        args.range_error("params.keyLengths[" + std::to_string(i) + "] expected a length in [0, " +
                         std::to_string(d.Tk) + "], got " + std::to_string(len[i]));
      }
    }
    d.key_lengths = len;
  }
  return call;
}

using Named = std::pair<const char*, Napi::Float32Array*>;

// Outputs are written while inputs are still being read, and gradients accumulate: every output
// must be disjoint from every other buffer of the call (absent ones, and packed k/v, are skipped).
void check_disjoint(const Args& args, std::initializer_list<Named> outputs, std::initializer_list<Named> inputs) {
  for (auto out = outputs.begin(); out != outputs.end(); ++out) {
    if (out->second->IsEmpty()) continue;
    for (auto other = out + 1; other != outputs.end(); ++other) {
      if (!other->second->IsEmpty()) args.disjoint(out->first, *out->second, other->first, *other->second);
    }
    for (const Named& in : inputs) {
      if (!in.second->IsEmpty()) args.disjoint(out->first, *out->second, in.first, *in.second);
    }
  }
}

AttentionKernels kernels_of(KilnAddon& k) {
  return {k.table.gemm.fn, k.table.attention_softmax_block.fn, k.table.attention_probs.fn,
          k.table.attention_dscores.fn, k.table.dropout_forward.fn};
}

Napi::Value Forward(const Napi::CallbackInfo& info) {
  Args args(info, "attentionForward", 6);
  auto out = args.f32(0, "out"), lse = args.f32(1, "lse");
  auto q = args.f32(2, "q"), k = args.f32_or_null(3, "k"), v = args.f32_or_null(4, "v");
  Call c = read_params(args, info[5]);
  const size_t hd = c.d.H * c.d.D;
  if (c.packed) {
    if (!k.IsEmpty() || !v.IsEmpty()) args.type_error("k and v expected null with params.packed (q holds them)");
  } else {
    k = args.f32(3, "k"), v = args.f32(4, "v");  // required: a null gets f32's message
  }
  args.expect_length("out", out, c.out_len, "b*h*tq*d");
  args.expect_length("lse", lse, c.lse_len, "b*h*tq");
  args.expect_length("q", q, c.q_len, c.packed ? "3*b*tq*h*d" : "b*h*tq*d");
  if (!c.packed) {
    args.expect_length("k", k, c.kv_len, "b*h*kvCapacity*d");
    args.expect_length("v", v, c.kv_len, "b*h*kvCapacity*d");
  }
  check_disjoint(args, {{"out", &out}, {"lse", &lse}}, {{"q", &q}, {"k", &k}, {"v", &v}});
  KilnAddon& a = KilnAddon::of(info);
  const float* kp = c.packed ? q.Data() + hd : k.Data();
  const float* vp = c.packed ? q.Data() + 2 * hd : v.Data();
  if (!attention_forward(a.pool, a.workspace, kernels_of(a), out.Data(), lse.Data(), q.Data(), kp, vp, c.d)) {
    args.range_error("out of memory for the attention scratch");
  }
  return args.undefined();
}

Napi::Value Backward(const Napi::CallbackInfo& info) {
  Args args(info, "attentionBackward", 10, 11);
  const bool overwrite = args.flag(10, "overwrite");
  auto dq = args.f32_or_null(0, "dq"), dk = args.f32_or_null(1, "dk"), dv = args.f32_or_null(2, "dv");
  auto dout = args.f32(3, "dout"), q = args.f32(4, "q"), k = args.f32_or_null(5, "k"), v = args.f32_or_null(6, "v");
  auto out = args.f32(7, "out"), lse = args.f32(8, "lse");
  Call c = read_params(args, info[9]);
  const size_t hd = c.d.H * c.d.D;
  if (c.packed) {
    if (!k.IsEmpty() || !v.IsEmpty() || !dk.IsEmpty() || !dv.IsEmpty()) {
      args.type_error("k, v, dk and dv expected null with params.packed (q and dq hold them)");
    }
  } else {
    k = args.f32(5, "k"), v = args.f32(6, "v");  // required: a null gets f32's message
  }
  if (!dq.IsEmpty()) args.expect_length("dq", dq, c.q_len, c.packed ? "3*b*tq*h*d" : "b*h*tq*d");
  if (!dk.IsEmpty()) args.expect_length("dk", dk, c.kv_len, "b*h*kvCapacity*d");
  if (!dv.IsEmpty()) args.expect_length("dv", dv, c.kv_len, "b*h*kvCapacity*d");
  args.expect_length("dout", dout, c.out_len, "b*h*tq*d");
  args.expect_length("q", q, c.q_len, c.packed ? "3*b*tq*h*d" : "b*h*tq*d");
  if (!c.packed) {
    args.expect_length("k", k, c.kv_len, "b*h*kvCapacity*d");
    args.expect_length("v", v, c.kv_len, "b*h*kvCapacity*d");
  }
  args.expect_length("out", out, c.out_len, "b*h*tq*d");
  args.expect_length("lse", lse, c.lse_len, "b*h*tq");
  check_disjoint(args, {{"dq", &dq}, {"dk", &dk}, {"dv", &dv}},
                 {{"dout", &dout}, {"q", &q}, {"k", &k}, {"v", &v}, {"out", &out}, {"lse", &lse}});
  KilnAddon& a = KilnAddon::of(info);
  if (overwrite && c.cap > c.d.Tk) {  // the kernel never reaches the cache rows past tk: zero all of dk, dv
    if (!dk.IsEmpty()) std::fill_n(dk.Data(), c.kv_len, 0.0f);
    if (!dv.IsEmpty()) std::fill_n(dv.Data(), c.kv_len, 0.0f);
  }
  float* dqp = data_or_null(dq);
  float* dkp = c.packed ? (dqp ? dqp + hd : nullptr) : data_or_null(dk);
  float* dvp = c.packed ? (dqp ? dqp + 2 * hd : nullptr) : data_or_null(dv);
  const float* kp = c.packed ? q.Data() + hd : k.Data();
  const float* vp = c.packed ? q.Data() + 2 * hd : v.Data();
  if (!attention_backward(a.pool, a.workspace, kernels_of(a), dqp, dkp, dvp, dout.Data(), q.Data(), kp, vp,
                          out.Data(), lse.Data(), c.d, overwrite)) {
    args.range_error("out of memory for the attention scratch");
  }
  return args.undefined();
}

}  // namespace

void init_attention(Napi::Env env, Napi::Object exports) {
  exports.Set("attentionForward", Napi::Function::New(env, Forward, "attentionForward"));
  exports.Set("attentionBackward", Napi::Function::New(env, Backward, "attentionBackward"));
}

}  // namespace kiln
