// Convolution exports (NCHW, float32; backward passes accumulate):
//   conv2dForward(y, x, w, bias | null, params)        y = conv2d(x, w) + bias
//   conv2dBackwardData(dx, dy, w, params)              dx += input gradient
//   conv2dBackwardWeight(dw, db | null, x, dy, params) dw += weight gradient, db += bias gradient
// params: n, c, h, w (input), k (output channels), r, s (kernel), strideH, strideW, padTop,
// padBottom, padLeft, padRight, dilationH, dilationW, and optionally p, q (the output size, which
// must then equal what the rest implies; src/tensor/shape.ts resolveConv2d returns them).
// At the ref level the direct reference loops run; otherwise im2col + the blocked GEMM, or for
// 3x3 stride-1 convolutions with enough channels Winograd F(4x4, 3x3) (runtime/winograd.cc).
#include <algorithm>
#include <string>

#include "addon.h"
#include "args.h"
#include "params.h"
#include "../kernels/winograd.h"
#include "../runtime/conv.h"
#include "../runtime/parallel.h"

namespace kiln {
namespace {

// The geometry of a call, and the buffer lengths it implies.
struct Geometry {
  Conv2dDims d;
  size_t x_len, w_len, y_len;
};

size_t out_size(const Args& args, size_t in, size_t pad0, size_t pad1, size_t kernel, size_t stride, size_t dil,
                const char* axis) {
  const size_t span = args.mul(dil, kernel - 1, "dilation*(kernel-1)") + 1;
  const size_t padded = in + pad0 + pad1;
  if (span > padded) {
    args.range_error(std::string("the kernel spans ") + std::to_string(span) + " along " + axis + " but the padded input is only " +
                     std::to_string(padded) + " (" + std::to_string(in) + " + " + std::to_string(pad0) + " + " +
                     std::to_string(pad1) + ")");
  }
  return (padded - span) / stride + 1;
}

Geometry geometry(const Args& args, const Napi::Value& v) {
  Params p(args, v, {"n", "c", "h", "w", "k", "r", "s", "strideH", "strideW", "padTop", "padBottom", "padLeft",
                     "padRight", "dilationH", "dilationW", "p", "q"});
  Geometry g;
  Conv2dDims& d = g.d;
  d.N = p.required_size("n");
  d.C = p.positive_size("c"), d.H = p.positive_size("h"), d.W = p.positive_size("w");
  d.K = p.positive_size("k"), d.R = p.positive_size("r"), d.S = p.positive_size("s");
  d.stride_h = p.positive_size("strideH"), d.stride_w = p.positive_size("strideW");
  d.dil_h = p.positive_size("dilationH"), d.dil_w = p.positive_size("dilationW");
  const size_t top = p.required_size("padTop"), bottom = p.required_size("padBottom");
  const size_t left = p.required_size("padLeft"), right = p.required_size("padRight");
  for (size_t pad : {top, bottom, left, right})
    if (pad > (size_t{1} << 30)) args.range_error("padding expected at most 2^30, got " + std::to_string(pad));
  d.pad_h = top, d.pad_w = left;
  d.P = out_size(args, d.H, top, bottom, d.R, d.stride_h, d.dil_h, "h");
  d.Q = out_size(args, d.W, left, right, d.S, d.stride_w, d.dil_w, "w");
  if (p.has("p") && p.size("p", 0) != d.P) args.range_error("params.p expected " + std::to_string(d.P) + " (the output height the geometry implies), got " + std::to_string(p.size("p", 0)));
  if (p.has("q") && p.size("q", 0) != d.Q) args.range_error("params.q expected " + std::to_string(d.Q) + " (the output width the geometry implies), got " + std::to_string(p.size("q", 0)));
  g.x_len = args.mul(args.mul(d.N, d.C, "n*c"), args.mul(d.H, d.W, "h*w"), "n*c*h*w");
  g.w_len = args.mul(args.mul(d.K, d.C, "k*c"), args.mul(d.R, d.S, "r*s"), "k*c*r*s");
  g.y_len = args.mul(args.mul(d.N, d.K, "n*k"), args.mul(d.P, d.Q, "p*q"), "n*k*p*q");
  // the im2col matrix of one image must be addressable too
  args.mul(args.mul(g.w_len / d.K, d.P, "c*r*s*p"), d.Q, "c*r*s*p*q");
  return g;
}

// The Winograd transforms of the level the GEMM tile was picked for (none at ref).
WinogradKernels winograd_kernels(Isa isa) {
  WinogradKernels wk;
#if defined(KILN_X86_ISA_LIBS)
  if (isa == Isa::avx512) {
    wk = {avx512::kWinogradLanes, &avx512::winograd_pack_f32, &avx512::winograd_input_f32, &avx512::winograd_output_f32,
          &avx512::winograd_unpack_f32, &avx512::winograd_grad_output_f32,
          &avx512::winograd_gemm_f32, &avx512::winograd_gemm_grad_f32};
  } else if (isa == Isa::avx2) {
    wk = {avx2::kWinogradLanes, &avx2::winograd_pack_f32, &avx2::winograd_input_f32, &avx2::winograd_output_f32,
          &avx2::winograd_unpack_f32, &avx2::winograd_grad_output_f32,
          &avx2::winograd_gemm_f32, &avx2::winograd_gemm_grad_f32};
  }
#else
  (void)isa;
#endif
  return wk;
}

ConvKernels kernels(KilnAddon& k) {
  ConvKernels kern{k.table.gemm.fn, k.table.sum.fn, winograd_kernels(k.table.gemm.isa)};
  // the pixel-major lowering's layout kernels, of the level the GEMM tile was picked for (none at ref)
#if defined(KILN_X86_ISA_LIBS)
  if (k.table.gemm.isa == Isa::avx512) {
    kern.transpose = &avx512::transpose_f32, kern.im2row = &avx512::im2row_f32, kern.row2im_add = &avx512::row2im_add_f32;
    kern.weight_small = &avx512::conv_weight_small_f32, kern.weight_small_scratch = &avx512::conv_weight_small_scratch;
    kern.forward_small = &avx512::conv_forward_small_f32, kern.forward_small_scratch = &avx512::conv_forward_small_scratch;
    kern.forward_small_lanes = 16;
  } else if (k.table.gemm.isa == Isa::avx2) {
    kern.transpose = &avx2::transpose_f32, kern.im2row = &avx2::im2row_f32, kern.row2im_add = &avx2::row2im_add_f32;
    kern.weight_small = &avx2::conv_weight_small_f32, kern.weight_small_scratch = &avx2::conv_weight_small_scratch;
  }
#endif
  return kern;
}

void out_of_memory(const Napi::CallbackInfo& info, const char* op) {
  throw Napi::Error::New(info.Env(), std::string(op) + ": out of memory for the convolution workspace");
}

Napi::Value Forward(const Napi::CallbackInfo& info) {
  Args args(info, "conv2dForward", 5);
  auto y = args.f32(0, "y"), x = args.f32(1, "x"), w = args.f32(2, "w");
  auto bias = args.f32_or_null(3, "bias");
  Geometry g = geometry(args, info[4]);
  args.expect_length("y", y, g.y_len, "n*k*p*q");
  args.expect_length("x", x, g.x_len, "n*c*h*w");
  args.expect_length("w", w, g.w_len, "k*c*r*s");
  if (!bias.IsEmpty()) args.expect_length("bias", bias, g.d.K, "k");
  args.disjoint("y", y, "x", x);
  args.disjoint("y", y, "w", w);
  if (!bias.IsEmpty()) args.disjoint("y", y, "bias", bias);
  KilnAddon& k = KilnAddon::of(info);
  const Conv2dDims& d = g.d;
  if (!k.table.gemm.fn.tile) {
    float *py = y.Data(), *pb = data_or_null(bias);
    const float *px = x.Data(), *pw = w.Data();
    parallel_range(k.pool, d.N, 1, 1, [&](size_t n0, size_t n1) { ref::conv2d_forward_f32(py, px, pw, pb, d, n0, n1); });
  } else if (!conv2d_forward(k.pool, k.workspace, kernels(k), y.Data(), x.Data(), w.Data(), data_or_null(bias), d)) {
    out_of_memory(info, "conv2dForward");
  }
  return info.Env().Undefined();
}

Napi::Value BackwardData(const Napi::CallbackInfo& info) {
  Args args(info, "conv2dBackwardData", 4, 5);
  auto dx = args.f32(0, "dx"), dy = args.f32(1, "dy"), w = args.f32(2, "w");
  Geometry g = geometry(args, info[3]);
  // overwrite: dx holds garbage (a fresh buffer) and is written, not added to
  const bool overwrite = args.flag(4, "overwrite");
  args.expect_length("dx", dx, g.x_len, "n*c*h*w");
  args.expect_length("dy", dy, g.y_len, "n*k*p*q");
  args.expect_length("w", w, g.w_len, "k*c*r*s");
  args.disjoint("dx", dx, "dy", dy);
  args.disjoint("dx", dx, "w", w);
  KilnAddon& k = KilnAddon::of(info);
  const Conv2dDims& d = g.d;
  if (!k.table.gemm.fn.tile) {
    float* pdx = dx.Data();
    const float *pdy = dy.Data(), *pw = w.Data();
    const size_t in_img = d.C * d.H * d.W;
    parallel_range(k.pool, d.N, 1, 1, [&](size_t n0, size_t n1) {
      if (overwrite) std::fill(pdx + n0 * in_img, pdx + n1 * in_img, 0.0f);  // the reference only adds
      ref::conv2d_backward_data_f32(pdx, pdy, pw, d, n0, n1);
    });
  } else if (!conv2d_backward_data(k.pool, k.workspace, kernels(k), dx.Data(), dy.Data(), w.Data(), d, overwrite)) {
    out_of_memory(info, "conv2dBackwardData");
  }
  return info.Env().Undefined();
}

Napi::Value BackwardWeight(const Napi::CallbackInfo& info) {
  Args args(info, "conv2dBackwardWeight", 5);
  auto dw = args.f32(0, "dw");
  auto db = args.f32_or_null(1, "db");
  auto x = args.f32(2, "x"), dy = args.f32(3, "dy");
  Geometry g = geometry(args, info[4]);
  args.expect_length("dw", dw, g.w_len, "k*c*r*s");
  if (!db.IsEmpty()) args.expect_length("db", db, g.d.K, "k");
  args.expect_length("x", x, g.x_len, "n*c*h*w");
  args.expect_length("dy", dy, g.y_len, "n*k*p*q");
  args.disjoint("dw", dw, "x", x);
  args.disjoint("dw", dw, "dy", dy);
  if (!db.IsEmpty()) {
    args.disjoint("db", db, "x", x);
    args.disjoint("db", db, "dy", dy);
    args.disjoint("db", db, "dw", dw);
  }
  KilnAddon& k = KilnAddon::of(info);
  const Conv2dDims& d = g.d;
  if (!k.table.gemm.fn.tile) {
    float *pdw = dw.Data(), *pdb = data_or_null(db);
    const float *px = x.Data(), *pdy = dy.Data();
    parallel_range(k.pool, d.K, 1, 1, [&](size_t k0, size_t k1) { ref::conv2d_backward_weight_f32(pdw, pdb, px, pdy, d, k0, k1); });
  } else if (!conv2d_backward_weight(k.pool, k.workspace, kernels(k), dw.Data(), data_or_null(db), x.Data(), dy.Data(), d)) {
    out_of_memory(info, "conv2dBackwardWeight");
  }
  return info.Env().Undefined();
}

}  // namespace

void init_conv(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2dForward", Napi::Function::New(env, Forward, "conv2dForward"));
  exports.Set("conv2dBackwardData", Napi::Function::New(env, BackwardData, "conv2dBackwardData"));
  exports.Set("conv2dBackwardWeight", Napi::Function::New(env, BackwardWeight, "conv2dBackwardWeight"));
}

}  // namespace kiln
