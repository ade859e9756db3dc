// Batch normalization exports (NCHW, float32, statistics per channel over N*H*W; as PyTorch's
// BatchNorm2d; backward accumulates):
//   batchNormForward(y, saveMean, saveInvstd, x, gamma, beta, runningMean, runningVar, params, residual?,
//                    reluMask?)
//   batchNormBackward(dx, dgamma, dbeta, dy, x, y, gamma, saveMean, saveInvstd, params, overwrite?,
//                     dresidual?, overwriteResidual?, reluMask?)
// params: n, c, h, w, training (required), momentum (0.1), eps (1e-5), relu (false: a fused ReLU).
// residual (same shape as x) is added before the ReLU: y = relu(bn(x) + residual), a residual
// block's tail in one pass; backward then adds the masked dy to dresidual (its gradient).
// reluMask (Int32Array of n*c*ceil(h*w / 32) words; params.relu only): the forward pass writes the
// ReLU's mask into it as bits (kernels.h, batch_norm_mask_stride), and the backward pass reads
// them instead of y (then y may be null): 1/32 of the memory traffic of reading y back.
// gamma/beta null mean 1/0; running buffers may be null when training (then not tracked); every
// gradient output may be null (skipped). Evaluation fills saveMean/saveInvstd from the running
// statistics, so backward takes the same arguments in both modes.
// At the ref level the reference loops run; otherwise the SIMD pieces (runtime/batchnorm.cc).
#include <algorithm>
#include <initializer_list>
#include <string>
#include <utility>

#include "addon.h"
#include "args.h"
#include "params.h"
#include "../runtime/batchnorm.h"

namespace kiln {
namespace {

struct Call {
  BatchNormDims d;
  bool training;
  size_t x_len;        // n*c*h*w
  size_t per_channel;  // n*h*w
};

// Checks an optional relu mask: its length, and that params.relu is on.
void check_mask(const Args& args, const Call& call, const Napi::Int32Array& mask) {
  if (mask.IsEmpty()) return;
  if (!call.d.relu) args.type_error("reluMask expected null when params.relu is false, got Int32Array");
  const size_t words = args.mul(call.x_len / std::max<size_t>(1, call.d.HW),
                                batch_norm_mask_stride(call.d.HW) / sizeof(int32_t), "n*c*ceil(h*w/32)");
  args.expect_length("reluMask", mask, words, "n*c*ceil(h*w/32)");
}

uint8_t* bytes_or_null(Napi::Int32Array& a) { return a.IsEmpty() ? nullptr : reinterpret_cast<uint8_t*>(a.Data()); }

Call read_params(const Args& args, const Napi::Value& v) {
  Params p(args, v, {"n", "c", "h", "w", "training", "momentum", "eps", "relu"});
  Call call;
  BatchNormDims& d = call.d;
  d.N = p.required_size("n");
  d.C = p.required_size("c");
  const size_t h = p.required_size("h"), w = p.required_size("w");
  d.HW = args.mul(h, w, "h*w");
  call.per_channel = args.mul(d.N, d.HW, "n*h*w");
  call.x_len = args.mul(call.per_channel, d.C, "n*c*h*w");
  // no default: running a model in the wrong mode silently is the classic batch-norm bug
  if (!p.get("training").IsBoolean()) {
    args.type_error("params.training expected a boolean, got " + describe(p.get("training")));
  }
  call.training = p.flag("training");
  d.relu = p.flag("relu");
  d.eps = p.number("eps", 1e-5f);
  if (!(d.eps > 0)) args.range_error("params.eps expected a number > 0 (as a float32), got " + describe(p.get("eps")));
  d.momentum = p.number("momentum", 0.1f);
  if (!(d.momentum >= 0 && d.momentum <= 1)) {
    args.range_error("params.momentum expected a number in [0, 1], got " + describe(p.get("momentum")));
  }
  return call;
}

using Named = std::pair<const char*, Napi::Float32Array*>;

// Every output must be disjoint from every other buffer of the call (absent ones are skipped):
// the kernels read inputs after writing outputs, and gradients accumulate.
void check_disjoint(const Args& args, std::initializer_list<Named> outputs, std::initializer_list<Named> inputs) {
  for (auto out = outputs.begin(); out != outputs.end(); ++out) {
    if (out->second->IsEmpty()) continue;
    for (auto other = out + 1; other != outputs.end(); ++other)
      if (!other->second->IsEmpty()) args.disjoint(out->first, *out->second, other->first, *other->second);
    for (const Named& in : inputs)
      if (!in.second->IsEmpty()) args.disjoint(out->first, *out->second, in.first, *in.second);
  }
}

void check_channels(const Args& args, size_t c, std::initializer_list<Named> buffers) {
  for (const Named& b : buffers)
    if (!b.second->IsEmpty()) args.expect_length(b.first, *b.second, c, "c");
}

BatchNormKernels kernels(const KilnAddon& k) {
  return {k.table.batch_norm_moments.fn, k.table.batch_norm_apply.fn, k.table.batch_norm_grad_sums.fn,
          k.table.batch_norm_grad_input.fn};
}

Napi::Value Forward(const Napi::CallbackInfo& info) {
  Args args(info, "batchNormForward", 9, 11);
  auto y = args.f32(0, "y"), save_mean = args.f32(1, "saveMean"), save_invstd = args.f32(2, "saveInvstd");
  auto x = args.f32(3, "x");
  auto gamma = args.f32_or_null(4, "gamma"), beta = args.f32_or_null(5, "beta");
  auto running_mean = args.f32_or_null(6, "runningMean"), running_var = args.f32_or_null(7, "runningVar");
  const Call call = read_params(args, info[8]);
  auto residual = args.f32_or_null(9, "residual");
  auto mask = args.i32_or_null(10, "reluMask");
  const BatchNormDims& d = call.d;
  args.expect_length("y", y, call.x_len, "n*c*h*w");
  args.expect_length("x", x, call.x_len, "n*c*h*w");
  if (!residual.IsEmpty()) args.expect_length("residual", residual, call.x_len, "n*c*h*w");
  check_mask(args, call, mask);
  check_channels(args, d.C, {{"saveMean", &save_mean}, {"saveInvstd", &save_invstd}, {"gamma", &gamma}, {"beta", &beta},
                             {"runningMean", &running_mean}, {"runningVar", &running_var}});
  if (!call.training) {
    for (const Named& r : {Named{"runningMean", &running_mean}, Named{"runningVar", &running_var}})
      if (r.second->IsEmpty()) {
        args.type_error(std::string(r.first) + " expected Float32Array when params.training is false, got null");
      }
  } else if (call.per_channel < 2) {
    // as PyTorch: the unbiased variance of one value is undefined
    args.range_error("expected more than 1 value per channel when training, got n*h*w = " +
                     std::to_string(call.per_channel));
  }
  check_disjoint(args,
                 {{"y", &y}, {"saveMean", &save_mean}, {"saveInvstd", &save_invstd}, {"runningMean", &running_mean},
                  {"runningVar", &running_var}},
                 {{"x", &x}, {"residual", &residual}, {"gamma", &gamma}, {"beta", &beta}});
  if (!mask.IsEmpty()) {
    for (const Named& b : {Named{"y", &y}, Named{"saveMean", &save_mean}, Named{"saveInvstd", &save_invstd},
                           Named{"runningMean", &running_mean}, Named{"runningVar", &running_var}, Named{"x", &x},
                           Named{"residual", &residual}, Named{"gamma", &gamma}, Named{"beta", &beta}})
      if (!b.second->IsEmpty()) args.disjoint("reluMask", mask, b.first, *b.second);
  }

  KilnAddon& k = KilnAddon::of(info);
  const bool simd = k.table.batch_norm_apply.isa != Isa::ref;
  const BatchNormKernels kern = kernels(k);
  float *py = y.Data(), *pm = save_mean.Data(), *pi = save_invstd.Data();
  uint8_t* pmask = bytes_or_null(mask);
  float *prm = data_or_null(running_mean), *prv = data_or_null(running_var);
  const float *px = x.Data(), *pr = data_or_null(residual), *pg = data_or_null(gamma), *pb = data_or_null(beta);
  for_channels(k.pool, d, [&](size_t c0, size_t c1) {
    if (call.training) {
      if (simd) batch_norm_forward_train(kern, py, pmask, pm, pi, prm, prv, px, pr, pg, pb, d, c0, c1);
      else ref::batch_norm_forward_train_f32(py, pmask, pm, pi, prm, prv, px, pr, pg, pb, d, c0, c1);
    } else {
      batch_norm_save_running(pm, pi, prm, prv, d, c0, c1);
      if (simd) batch_norm_forward_eval(kern, py, pmask, px, pr, pg, pb, prm, prv, d, c0, c1);
      else ref::batch_norm_forward_eval_f32(py, pmask, px, pr, pg, pb, prm, prv, d, c0, c1);
    }
  });
  return info.Env().Undefined();
}

Napi::Value Backward(const Napi::CallbackInfo& info) {
  Args args(info, "batchNormBackward", 10, 14);
  auto dx = args.f32_or_null(0, "dx"), dgamma = args.f32_or_null(1, "dgamma"), dbeta = args.f32_or_null(2, "dbeta");
  auto dy = args.f32(3, "dy"), x = args.f32(4, "x");
  auto y = args.f32_or_null(5, "y"), gamma = args.f32_or_null(6, "gamma");
  auto save_mean = args.f32(7, "saveMean"), save_invstd = args.f32(8, "saveInvstd");
  const Call call = read_params(args, info[9]);
  // overwrite: dx holds garbage (a fresh buffer) and is written, not added to; the same for dresidual
  BatchNormOverwrite overwrite;
  overwrite.dx = args.flag(10, "overwrite");
  auto dres = args.f32_or_null(11, "dresidual");
  overwrite.dres = args.flag(12, "overwriteResidual");
  auto mask = args.i32_or_null(13, "reluMask");
  const BatchNormDims& d = call.d;
  if (!dx.IsEmpty()) args.expect_length("dx", dx, call.x_len, "n*c*h*w");
  if (!dres.IsEmpty()) args.expect_length("dresidual", dres, call.x_len, "n*c*h*w");
  args.expect_length("dy", dy, call.x_len, "n*c*h*w");
  args.expect_length("x", x, call.x_len, "n*c*h*w");
  if (!y.IsEmpty()) args.expect_length("y", y, call.x_len, "n*c*h*w");
  check_mask(args, call, mask);
  if (d.relu && y.IsEmpty() && mask.IsEmpty()) {
    args.type_error("y expected Float32Array when params.relu is true and reluMask is null (the ReLU mask), got null");
  }
  check_channels(args, d.C, {{"dgamma", &dgamma}, {"dbeta", &dbeta}, {"gamma", &gamma}, {"saveMean", &save_mean},
                             {"saveInvstd", &save_invstd}});
  check_disjoint(args, {{"dx", &dx}, {"dresidual", &dres}, {"dgamma", &dgamma}, {"dbeta", &dbeta}},
                 {{"dy", &dy}, {"x", &x}, {"y", &y}, {"gamma", &gamma}, {"saveMean", &save_mean},
                  {"saveInvstd", &save_invstd}});
  if (!mask.IsEmpty()) {
    for (const Named& out : {Named{"dx", &dx}, Named{"dresidual", &dres}, Named{"dgamma", &dgamma}, Named{"dbeta", &dbeta}})
      if (!out.second->IsEmpty()) args.disjoint("reluMask", mask, out.first, *out.second);
  }

  KilnAddon& k = KilnAddon::of(info);
  const bool simd = k.table.batch_norm_grad_sums.isa != Isa::ref;
  const BatchNormKernels kern = kernels(k);
  float *pdx = data_or_null(dx), *pdr = data_or_null(dres), *pdg = data_or_null(dgamma), *pdb = data_or_null(dbeta);
  const float *pdy = dy.Data(), *px = x.Data(), *pyv = data_or_null(y), *pg = data_or_null(gamma);
  const float *pm = save_mean.Data(), *pi = save_invstd.Data();
  const uint8_t* pmask = bytes_or_null(mask);
  if (!pdx && !pdr && !pdg && !pdb) return info.Env().Undefined();
  for_channels(k.pool, d, [&](size_t c0, size_t c1) {
    if (simd) {
      batch_norm_backward(kern, pdx, pdr, pdg, pdb, pdy, px, pyv, pmask, pg, pm, pi, call.training, overwrite, d, c0,
                          c1);
      return;
    }
    // the reference only adds: zero the overwritten outputs' channels first
    for (auto [out, fresh] : {std::pair{pdx, overwrite.dx}, std::pair{pdr, overwrite.dres}}) {
      if (!out || !fresh) continue;
      for (size_t n = 0; n < d.N; ++n) std::fill_n(out + (n * d.C + c0) * d.HW, (c1 - c0) * d.HW, 0.0f);
    }
    ref::batch_norm_backward_f32(pdx, pdr, pdg, pdb, pdy, px, pyv, pmask, pg, pm, pi, call.training, d, c0, c1);
  });
  return info.Env().Undefined();
}

}  // namespace

void init_batchnorm(Napi::Env env, Napi::Object exports) {
  exports.Set("batchNormForward", Napi::Function::New(env, Forward, "batchNormForward"));
  exports.Set("batchNormBackward", Napi::Function::New(env, Backward, "batchNormBackward"));
}

}  // namespace kiln
