// Convolution as GEMM over im2col columns, in NCHW:
//   forward      y_n(K, PQ)    = w(K, CRS)   col_n(CRS, PQ)   + b   (per image)
//   backward dX  dcol(CRS, PQ) = w^T(CRS, K) dy_n(K, PQ), then col2im adds it to dx_n (per image)
//   backward dW  dw(K, CRS)   += dy_g(K, L)  col_g^T(L, CRS)  over groups of images, L = images*PQ
// Forward and backward-data give each thread whole images: im2col then a GEMM on that thread,
// so an image's columns are still in its core's L2 when the GEMM reads them, and no thread waits
// for another. With fewer images than threads the threads share each image's GEMM instead.
// The weight gradient sums over images: images are grouped by a size that depends on the shape
// only, and each group is one GEMM over all threads (its K dimension is images*PQ), so results
// are identical for any thread count. 1x1 stride-1 unpadded convolutions skip im2col.
#include "conv.h"

#include <algorithm>
#include <cstring>

#include "conv_rows.h"
#include "conv_taps.h"
#include "im2col.h"
#include "parallel.h"

namespace kiln {
namespace {

// Scratch slots: gemm() uses slots below 4 * kMaxThreads + 4; the tap-by-tap path (conv_taps.h)
// takes 8 from kTapsSlot, clear of Winograd's (from 8192) and attention's (from 16384).
constexpr size_t kSlot = 4 * ThreadPool::kMaxThreads + 8;
constexpr size_t kTapsSlot = 12288;
// A column block (im2col of a group of images) holds at most this many floats (16 MiB): big
// enough that a group's GEMM has a long K to split over threads, small enough to stay a modest
// workspace. 64 MiB held 22 MB of ResNet-18-at-96's scratch for no speed (16 MiB: 12 MB, peak
// RSS 665 -> 658 MB; same-process A/B of its strided and 3x3-pixel layers 0.99-1.01x); 8 MiB
// cost its 512-channel layers 2-5%.
constexpr size_t kGroupFloats = size_t{4} << 20;
// The weight gradient of a dw up to this many floats (384 KiB) is summed per chunk of images,
// over at most kWeightChunks chunks; see backward_weight_chunked. Same-process A/B, 2 threads:
// ResNet-18's 64 -> 128 3x3 stride 2 at 56x56 (73,728 floats) 1.4-1.5x faster chunked than over
// image groups, but 256 -> 512 1x1 (131,072) 0.63x and 128 -> 256 3x3 (294,912) 0.76-0.94x.
constexpr size_t kWeightChunkedMax = size_t{96} << 10;
constexpr size_t kWeightChunks = 16;

bool pointwise(const Conv2dDims& d) {
  return d.R == 1 && d.S == 1 && d.stride_h == 1 && d.stride_w == 1 && d.pad_h == 0 && d.pad_w == 0 && d.P == d.H &&
         d.Q == d.W;
}

// A stride-1 convolution over few input channels (a network's first layer: ResNet-20's 3 -> 16)
// goes to the ISA's direct kernels (kernels/simd/conv_forward_small.h, conv_weight_small.h):
// below kRowsMinChannels (conv_rows.cc) the pixel-major lowering does not apply, and the
// channel-major one's GEMM (K = C*R*S = 27) spent most of its time copying and packing.
constexpr size_t kSmallChannels = 7;

bool small_channels(const Conv2dDims& d) {
  return d.stride_h == 1 && d.stride_w == 1 && d.dil_h == 1 && d.dil_w == 1 && d.C <= kSmallChannels && d.P > 0 &&
         d.Q > 0;
}

// The forward pass of a small_channels convolution over at most kSmallForwardChannels, with
// output rows that fill at least 3/4 of their vectors: images claimed one at a time, each
// written by one task alone. Same-process A/B against the wide lowering, AVX-512, 2 threads:
// ResNet-20's 3 -> 16 at 32x32 1.20x, a 7x7 over 3 channels at 224 1.20x, 4 channels 1.09x,
// 3 channels at 12x12 1.24x; 5x5 outputs 10 wide (10 of 16 lanes) 0.82-0.92x, 6 channels
// 0.82x. With AVX2 the kernel lost on ResNet-20's first layer (0.88x): not used there.
constexpr size_t kSmallForwardChannels = 4;

bool forward_small_applies(const Conv2dDims& d, const ConvKernels& kern) {
  if (!kern.forward_small || !small_channels(d) || d.C > kSmallForwardChannels) return false;
  const size_t lanes = kern.forward_small_lanes, vectors = (d.Q + lanes - 1) / lanes;
  return 4 * d.Q >= 3 * vectors * lanes;
}

bool forward_small(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* y, const float* x, const float* w,
                   const float* b, const Conv2dDims& d) {
  const size_t tasks = std::min(static_cast<size_t>(pool.size()), d.N), scratch = kern.forward_small_scratch(d);
  float* buf[ThreadPool::kMaxThreads];
  for (size_t t = 0; t < tasks; ++t)
    if (!(buf[t] = ws.floats(kSlot + t, scratch))) return false;
  parallel_claim(pool, d.N, [&](size_t t, size_t n) { kern.forward_small(y, buf[t], x, w, b, d, n, n + 1); });
  return true;
}

// Per-task scratch for the image-per-thread passes: a column matrix and the GEMM's packing
// buffers (nullptr where not needed). The callers keep one per possible task, on the stack.
struct TaskScratch {
  float *col = nullptr, *apack = nullptr, *bpack = nullptr;
};

bool task_scratch(Workspace& ws, size_t tasks, size_t col_floats, const GemmScratch& g, TaskScratch* out) {
  for (size_t t = 0; t < tasks; ++t) {
    if (col_floats && !(out[t].col = ws.floats(kSlot + 3 * t, col_floats))) return false;
    if (g.a_floats && !(out[t].apack = ws.floats(kSlot + 3 * t + 1, g.a_floats))) return false;
    if (g.b_floats && !(out[t].bpack = ws.floats(kSlot + 3 * t + 2, g.b_floats))) return false;
  }
  return true;
}

// Runs per_image(n, col, apack, bpack) for every image, whole images per thread, when there are
// at least as many images as threads (and the GEMM would not split K, so that a shared GEMM
// could never give other bits); otherwise shared(n, col) per image in order, col one buffer.
template <typename PerImage, typename Shared>
bool for_images(ThreadPool& pool, Workspace& ws, const GemmKernel& gk, const GemmDims& g, size_t N, size_t col_floats,
                PerImage per_image, Shared shared) {
  const size_t threads = static_cast<size_t>(pool.size());
  if (N >= threads || gemm_splits_k(g)) {
    const size_t tasks = std::min(threads, N);
    TaskScratch s[ThreadPool::kMaxThreads];
    if (!task_scratch(ws, tasks, col_floats, gemm_scratch(gk, g), s)) return false;
    // images are claimed one at a time (parallel.h): each writes only its own output
    parallel_claim(pool, N, [&](size_t t, size_t n) { per_image(n, s[t].col, s[t].apack, s[t].bpack); });
    return true;
  }
  float* col = col_floats ? ws.floats(kSlot, col_floats) : nullptr;
  if (col_floats && !col) return false;
  for (size_t n = 0; n < N; ++n)
    if (!shared(n, col)) return false;
  return true;
}

// Convolutions read their windows in place instead of through im2col. The image is zero-padded
// and split into stride_h x stride_w phase planes (plane (a, b) holds the padded pixels at rows
// a, a + stride_h, ... and columns b, b + stride_w, ...; at stride 1 it is just the padded image).
// Each plane is (Hp, Wp) with Hp = P + dil_h*(R-1)/stride_h, Wp = Q + dil_w*(S-1)/stride_w, and
// with the output computed over Wp-wide rows (the last columns of each row are junk), row
// (c, r, s) of the im2col matrix is the run of plane (c, r*dil_h % stride_h, s*dil_w % stride_w)
// starting at row r*dil_h / stride_h, column s*dil_w / stride_w: the GEMM takes those row offsets
// (GemmDims::b_rows) and no column matrix is written. The wide output is then copied (or added)
// into y without the junk columns.
struct Wide {
  size_t Hp, Wp, N;  // each phase plane; wide output columns: (P-1)*Wp + Q
  size_t plane;      // Hp * Wp
};

Wide wide_layout(const Conv2dDims& d) {
  Wide w;
  w.Hp = d.P + d.dil_h * (d.R - 1) / d.stride_h;
  w.Wp = d.Q + d.dil_w * (d.S - 1) / d.stride_w;
  w.plane = w.Hp * w.Wp;
  w.N = (d.P - 1) * w.Wp + d.Q;
  return w;
}

// rows:(C*R*S), the im2col row offsets into the phase planes (see Wide).
void wide_rows(long* rows, const Conv2dDims& d, const Wide& w) {
  for (size_t c = 0; c < d.C; ++c)
    for (size_t r = 0; r < d.R; ++r)
      for (size_t s = 0; s < d.S; ++s) {
        const size_t a = r * d.dil_h % d.stride_h, b = s * d.dil_w % d.stride_w;
        const size_t phase = (c * d.stride_h + a) * d.stride_w + b;
        rows[(c * d.R + r) * d.S + s] =
            static_cast<long>(phase * w.plane + r * d.dil_h / d.stride_h * w.Wp + s * d.dil_w / d.stride_w);
      }
}

bool wide_applies(const Conv2dDims& d) {
  // the junk columns are extra work: worth it while they stay below half the output (a 3x3 over
  // 8x8 computes 78 columns per 64 outputs; a 7x7 over 7x7 would compute 13 per 7)
  if (d.stride_h > 4 || d.stride_w > 4) return false;
  // a strided 1x1 convolution reads one phase of the image: im2col's subsampled copy is cheaper
  // than splitting every phase
  if (d.R == 1 && d.S == 1 && (d.stride_h > 1 || d.stride_w > 1)) return false;
  const size_t wp = d.Q + d.dil_w * (d.S - 1) / d.stride_w;
  return 2 * ((d.P - 1) * wp + d.Q) <= 3 * d.P * d.Q;
}

// xp: the phase planes of x:(C, H, W) (see Wide); every cell outside the input is zero.
void split_phases(float* xp, const float* x, const Conv2dDims& d, const Wide& w) {
  for (size_t c = 0; c < d.C; ++c)
    for (size_t a = 0; a < d.stride_h; ++a)
      for (size_t b = 0; b < d.stride_w; ++b) {
        float* plane = xp + ((c * d.stride_h + a) * d.stride_w + b) * w.plane;
        // plane cell (i, j) is input pixel (i*stride_h + a - pad_h, j*stride_w + b - pad_w)
        const TapRange rows = tap_range(w.Hp, a, d.stride_h, d.pad_h, 1, d.H);
        const TapRange cols = tap_range(w.Wp, b, d.stride_w, d.pad_w, 1, d.W);
        std::fill(plane, plane + rows.lo * w.Wp, 0.0f);
        for (size_t i = rows.lo; i < rows.hi; ++i) {
          float* o = plane + i * w.Wp;
          const float* in = x + (c * d.H + i * d.stride_h + a - d.pad_h) * d.W;
          const long shift = static_cast<long>(b) - static_cast<long>(d.pad_w);
          std::fill(o, o + cols.lo, 0.0f);
          if (d.stride_w == 1) {
            std::memcpy(o + cols.lo, in + static_cast<long>(cols.lo) + shift, (cols.hi - cols.lo) * sizeof(float));
          } else if (d.stride_w == 2) {
            copy_even(o + cols.lo, in + (static_cast<long>(2 * cols.lo) + shift), cols.hi - cols.lo);
          } else {
            for (size_t j = cols.lo; j < cols.hi; ++j) o[j] = in[static_cast<long>(j * d.stride_w) + shift];
          }
          std::fill(o + cols.hi, o + w.Wp, 0.0f);
        }
        std::fill(plane + rows.hi * w.Wp, plane + w.plane, 0.0f);
      }
}

// y:(K, P, Q) = (or +=) the wide output (K, N) without its junk columns.
void unwiden(float* y, const float* wide, const Conv2dDims& d, const Wide& w, bool add) {
  for (size_t k = 0; k < d.K; ++k)
    for (size_t p = 0; p < d.P; ++p) {
      float* o = y + (k * d.P + p) * d.Q;
      const float* in = wide + k * w.N + p * w.Wp;
      if (add) {
        for (size_t q = 0; q < d.Q; ++q) o[q] += in[q];
      } else {
        std::memcpy(o, in, d.Q * sizeof(float));
      }
    }
}

// y = (or +=) conv(x, w) + b through the wide layout. Workspace slots from `slot`: 2 per task,
// then the row offsets at slot + 2 * kMaxThreads.
bool forward_wide(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* y, const float* x, const float* w,
                  const float* b, const Conv2dDims& d, bool add, size_t slot) {
  const Wide layout = wide_layout(d);
  const size_t in_img = d.C * d.H * d.W, out_img = d.K * d.P * d.Q, padded = d.C * d.stride_h * d.stride_w * layout.plane;
  long* rows = ws.array<long>(slot + 2 * ThreadPool::kMaxThreads, d.C * d.R * d.S);
  if (!rows) return false;
  wide_rows(rows, d, layout);
  GemmDims g;  // wide(K, N) = w(K, CRS) B(CRS, N), B's rows at `rows` in the phase planes
  g.M = d.K, g.N = layout.N, g.K = d.C * d.R * d.S;
  g.lda = g.K, g.ldc = layout.N;
  g.b_rows = rows;
  g.epilogue.bias_row = b;
  const size_t scratch = padded + d.K * layout.N;  // per task: phase planes, wide output
  auto one = [&](size_t n, float* buf, auto&& run_gemm) {
    split_phases(buf, x + n * in_img, d, layout);
    if (!run_gemm(buf + padded, buf)) return false;
    unwiden(y + n * out_img, buf + padded, d, layout, add);
    return true;
  };
  const size_t threads = static_cast<size_t>(pool.size());
  if (d.N >= threads) {
    const size_t tasks = std::min(threads, d.N);
    const GemmScratch gs = gemm_scratch(kern.gemm, g);
    float *buf[ThreadPool::kMaxThreads], *apack[ThreadPool::kMaxThreads] = {};
    for (size_t t = 0; t < tasks; ++t) {
      if (!(buf[t] = ws.floats(slot + 2 * t, scratch))) return false;
      if (gs.a_floats && !(apack[t] = ws.floats(slot + 2 * t + 1, gs.a_floats))) return false;
    }
    parallel_claim(pool, d.N, [&](size_t t, size_t n) {
      one(n, buf[t], [&](float* c, const float* bm) {
        gemm_serial(kern.gemm, apack[t], nullptr, c, w, bm, g);
        return true;
      });
    });
    return true;
  }
  float* buf = ws.floats(slot, scratch);
  if (!buf) return false;
  for (size_t n = 0; n < d.N; ++n)
    if (!one(n, buf, [&](float* c, const float* bm) { return gemm(pool, ws, kern.gemm, c, w, bm, g, GemmBatch{}); }))
      return false;
  return true;
}

// The backward-data pass of a stride-1 convolution is itself a stride-1 convolution: of dy with
// the kernel flipped and its channel axes swapped, padded by dil*(R-1) - pad on each side.
Conv2dDims transposed(const Conv2dDims& d) {
  Conv2dDims t = d;
  t.C = d.K, t.K = d.C;
  t.H = d.P, t.W = d.Q;
  t.P = d.H, t.Q = d.W;
  t.pad_h = d.dil_h * (d.R - 1) - d.pad_h;
  t.pad_w = d.dil_w * (d.S - 1) - d.pad_w;
  return t;
}

// Small images under a large kernel (ResNet-18's last stages: 7x7 outputs, 512 x 4608 weights)
// make per-image GEMMs narrow (49 columns) and re-pack the whole weight, megabytes that no
// longer fit in L2, for every image. A group of images is then lowered together: their columns
// side by side in one (CRS, images*PQ) matrix, one GEMM over all threads (the weight packed once
// per group), and the result spread back to NCHW. With a weight that fits in L2 (ResNet-20) the
// per-image path is faster: its columns stay in cache. The group size depends on the shape only.
bool small_images(const Conv2dDims& d) {
  return d.P * d.Q <= 256 && d.N >= 2 && !pointwise(d) && d.K * d.C * d.R * d.S >= (size_t{1} << 18);
}

// Rows [k0, k1) of a (K, L) matrix holding a group's (K, PQ) blocks side by side (block i at
// columns [i*PQ, (i+1)*PQ) and at imgs + i*stride), row by row: long runs of writes.
void to_columns(float* m, size_t L, const float* imgs, size_t stride, size_t images, size_t k0, size_t k1, size_t PQ) {
  for (size_t k = k0; k < k1; ++k)
    for (size_t i = 0; i < images; ++i) std::memcpy(m + k * L + i * PQ, imgs + i * stride + k * PQ, PQ * sizeof(float));
}

// The reverse of to_columns: rows [k0, k1) of each block copied back to imgs + i*stride.
void from_columns(float* imgs, size_t stride, const float* m, size_t L, size_t images, size_t k0, size_t k1, size_t PQ) {
  for (size_t k = k0; k < k1; ++k)
    for (size_t i = 0; i < images; ++i) std::memcpy(imgs + i * stride + k * PQ, m + k * L + i * PQ, PQ * sizeof(float));
}

// Images per group: as many as kGroupFloats allows, spread evenly over the groups (64 images
// with room for 40 per group go as 32 + 32, not 40 + 24: a short last GEMM runs slower).
size_t image_group(const Conv2dDims& d) {
  const size_t most = std::max<size_t>(1, std::min(d.N, kGroupFloats / std::max<size_t>(1, d.C * d.R * d.S * d.P * d.Q)));
  const size_t groups = (d.N + most - 1) / most;
  return (d.N + groups - 1) / groups;
}

bool forward_grouped(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* y, const float* x, const float* w,
                     const float* b, const Conv2dDims& d) {
  const size_t CRS = d.C * d.R * d.S, PQ = d.P * d.Q, in_img = d.C * d.H * d.W, out_img = d.K * PQ;
  const size_t group = image_group(d);
  for (size_t n0 = 0; n0 < d.N; n0 += group) {
    const size_t gn = std::min(group, d.N - n0), L = gn * PQ;
    float* col = ws.floats(kSlot, CRS * L);
    float* out = ws.floats(kSlot + 1, d.K * L);
    if (!col || !out) return false;
    parallel_range(pool, d.C, 1, 1, [&](size_t c0, size_t c1) { im2col_images(col, L, x + n0 * in_img, gn, c0, c1, d); });
    GemmDims g;  // out(K, L) = w(K, CRS) col(CRS, L) + b
    g.M = d.K, g.N = L, g.K = CRS;
    g.lda = CRS, g.ldb = L, g.ldc = L;
    g.epilogue.bias_row = b;
    if (!gemm(pool, ws, kern.gemm, out, w, col, g, GemmBatch{})) return false;
    parallel_range(pool, d.K, 1, 1, [&](size_t k0, size_t k1) { from_columns(y + n0 * out_img, out_img, out, L, gn, k0, k1, PQ); });
  }
  return true;
}

// dx += col2im(w^T dy) over the same groups: dy gathered to (K, images*PQ), one GEMM, then the
// columns added back, each thread taking a range of channels of every image.
bool backward_data_grouped(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dx, const float* dy,
                           const float* w, const Conv2dDims& d, bool overwrite) {
  const size_t CRS = d.C * d.R * d.S, PQ = d.P * d.Q, in_img = d.C * d.H * d.W, out_img = d.K * PQ;
  const size_t group = image_group(d);
  for (size_t n0 = 0; n0 < d.N; n0 += group) {
    const size_t gn = std::min(group, d.N - n0), L = gn * PQ;
    float* dcol = ws.floats(kSlot, CRS * L);
    float* dys = ws.floats(kSlot + 1, d.K * L);
    if (!dcol || !dys) return false;
    parallel_range(pool, d.K, 1, 1, [&](size_t k0, size_t k1) { to_columns(dys, L, dy + n0 * out_img, out_img, gn, k0, k1, PQ); });
    GemmDims g;  // dcol(CRS, L) = w^T(CRS, K) dys(K, L)
    g.M = CRS, g.N = L, g.K = d.K;
    g.trans_a = true;
    g.lda = CRS, g.ldb = L, g.ldc = L;
    if (!gemm(pool, ws, kern.gemm, dcol, w, dys, g, GemmBatch{})) return false;
    parallel_range(pool, d.C, 1, 1, [&](size_t c0, size_t c1) {  // by channels, as the columns were laid out
      float* dxg = dx + n0 * in_img;
      if (overwrite)  // the planes about to be added to, just before
        for (size_t i = 0; i < gn; ++i) std::fill(dxg + i * in_img + c0 * d.H * d.W, dxg + i * in_img + c1 * d.H * d.W, 0.0f);
      col2im_add_images(dxg, dcol, L, gn, c0, c1, d);
    });
  }
  return true;
}

}  // namespace

bool conv2d_forward(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* y, const float* x, const float* w,
                    const float* b, const Conv2dDims& d) {
  if (d.N == 0) return true;
  if (winograd_applies(d, kern.winograd)) return winograd_forward(pool, ws, kern.winograd, y, x, w, b, d);
  if (rows_forward_applies(d, kern)) return rows_forward(pool, ws, kern, y, x, w, b, d, kSlot);
  if (forward_small_applies(d, kern)) return forward_small(pool, ws, kern, y, x, w, b, d);
  if (small_images(d)) {
    if (taps_apply(d, kern, TapsPass::forward)) return taps_forward(pool, ws, kern, y, x, w, b, d, kTapsSlot);
    return forward_grouped(pool, ws, kern, y, x, w, b, d);
  }
  if (!pointwise(d) && wide_applies(d)) return forward_wide(pool, ws, kern, y, x, w, b, d, false, kSlot);
  const size_t CRS = d.C * d.R * d.S, PQ = d.P * d.Q, in_img = d.C * d.H * d.W, out_img = d.K * PQ;
  const bool direct = pointwise(d);
  GemmDims g;  // y_n(K, PQ) = w(K, CRS) col_n(CRS, PQ) + b
  g.M = d.K, g.N = PQ, g.K = CRS;
  g.lda = CRS, g.ldb = PQ, g.ldc = PQ;
  g.epilogue.bias_row = b;
  auto columns = [&](size_t n, float* col) -> const float* {
    if (direct) return x + n * in_img;
    im2col(col, PQ, x + n * in_img, d);
    return col;
  };
  return for_images(
      pool, ws, kern.gemm, g, d.N, direct ? 0 : CRS * PQ,
      [&](size_t n, float* col, float* ap, float* bp) { gemm_serial(kern.gemm, ap, bp, y + n * out_img, w, columns(n, col), g); },
      [&](size_t n, float* col) { return gemm(pool, ws, kern.gemm, y + n * out_img, w, columns(n, col), g, GemmBatch{}); });
}

bool conv2d_backward_data(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dx, const float* dy,
                          const float* w, const Conv2dDims& d, bool overwrite) {
  if (d.N == 0) return true;
  // With overwrite each path writes dx whole, or zeroes an image just before adding into it
  // (while it is in cache), never in a separate pass over dx.
  if (winograd_applies(d, kern.winograd)) return winograd_backward_data(pool, ws, kern.winograd, dx, dy, w, d, overwrite);
  if (rows_phases_apply(d, kern)) return rows_backward_data_phases(pool, ws, kern, dx, dy, w, d, overwrite, kSlot);
  if (small_images(d)) {
    if (taps_apply(d, kern, TapsPass::backward_data)) return taps_backward_data(pool, ws, kern, dx, dy, w, d, overwrite, kTapsSlot);
    return backward_data_grouped(pool, ws, kern, dx, dy, w, d, overwrite);
  }
  if (rows_applies(d, kern)) return rows_backward_data(pool, ws, kern, dx, dy, w, d, overwrite, kSlot);
  // stride 1 with the padding within the window span: the transposed convolution has
  // non-negative padding on every side
  const bool flips = d.stride_h == 1 && d.stride_w == 1 && d.pad_h <= d.dil_h * (d.R - 1) &&
                     d.pad_w <= d.dil_w * (d.S - 1) && d.P <= d.H + d.pad_h && d.Q <= d.W + d.pad_w;
  if (!pointwise(d) && flips) {
    const Conv2dDims t = transposed(d);
    if (wide_applies(t)) {
      // wt:(C, K, R, S)[c, k, r, s] = w[k, c, R-1-r, S-1-s], in a slot past forward_wide's
      float* wt = ws.floats(kSlot + 2 * ThreadPool::kMaxThreads + 2, d.K * d.C * d.R * d.S);
      if (!wt) return false;
      for (size_t k = 0; k < d.K; ++k)
        for (size_t c = 0; c < d.C; ++c)
          for (size_t r = 0; r < d.R; ++r)
            for (size_t s = 0; s < d.S; ++s)
              wt[((c * d.K + k) * d.R + r) * d.S + s] = w[((k * d.C + c) * d.R + (d.R - 1 - r)) * d.S + (d.S - 1 - s)];
      return forward_wide(pool, ws, kern, dx, dy, wt, nullptr, t, !overwrite, kSlot);  // covers all of dx
    }
  }
  const size_t CRS = d.C * d.R * d.S, PQ = d.P * d.Q, in_img = d.C * d.H * d.W, out_img = d.K * PQ;
  const bool direct = pointwise(d);
  GemmDims g;  // dcol(CRS, PQ) = w^T(CRS, K) dy_n(K, PQ); 1x1: straight into dx_n, accumulating
  g.M = CRS, g.N = PQ, g.K = d.K;
  g.trans_a = true;
  g.lda = CRS, g.ldb = PQ, g.ldc = PQ;
  g.beta = direct && !overwrite ? 1.0f : 0.0f;
  auto target = [&](size_t n, float* col) { return direct ? dx + n * in_img : col; };
  auto scatter = [&](size_t n, float* col) {
    if (direct) return;
    if (overwrite) std::fill(dx + n * in_img, dx + (n + 1) * in_img, 0.0f);  // just before its adds
    col2im_add(dx + n * in_img, col, PQ, d);
  };
  return for_images(
      pool, ws, kern.gemm, g, d.N, direct ? 0 : CRS * PQ,
      [&](size_t n, float* col, float* ap, float* bp) {
        gemm_serial(kern.gemm, ap, bp, target(n, col), w, dy + n * out_img, g);
        scatter(n, col);
      },
      [&](size_t n, float* col) {
        if (!gemm(pool, ws, kern.gemm, target(n, col), w, dy + n * out_img, g, GemmBatch{})) return false;
        scatter(n, col);
        return true;
      });
}

namespace {

// dw += the sum of the chunks' partial weight gradients partial[0, chunks), in chunk order, in
// double.
void add_partials(ThreadPool& pool, float* dw, float* const* partial, size_t chunks, size_t dw_len) {
  parallel_range(pool, dw_len, kMapGrain, 16, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      double sum = 0.0;
      for (size_t c = 0; c < chunks; ++c) sum += partial[c][i];
      dw[i] = static_cast<float>(dw[i] + sum);
    }
  });
}

// The weight gradient when dw is small and the images many (ResNet-20: dw is 16 x 144, the sum
// runs over 128 x 1024 positions): the images are cut into a number of chunks that depends on N
// only; one thread sums a chunk's images into its own partial dw, image by image (its columns
// stay in that core's L2), and the partials are added in chunk order in double.
bool backward_weight_chunked(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dw, const float* x,
                             const float* dy, const Conv2dDims& d) {
  const size_t CRS = d.C * d.R * d.S, PQ = d.P * d.Q, in_img = d.C * d.H * d.W, out_img = d.K * PQ, dw_len = d.K * CRS;
  const bool direct = pointwise(d);
  const size_t threads = static_cast<size_t>(pool.size()), chunks = std::min<size_t>(d.N, kWeightChunks);
  const size_t tasks = std::min(threads, chunks);
  GemmDims g;  // partial(K, CRS) += dy_n(K, PQ) col_n^T(PQ, CRS)
  g.M = d.K, g.N = CRS, g.K = PQ;
  g.trans_b = true;
  g.lda = PQ, g.ldb = PQ, g.ldc = CRS;
  TaskScratch s[ThreadPool::kMaxThreads];
  if (!task_scratch(ws, tasks, direct ? 0 : CRS * PQ, gemm_scratch(kern.gemm, g), s)) return false;
  // one partial per chunk (at most kWeightChunks x 256 KiB), so that chunks can be claimed one at
  // a time (parallel.h); the partials are then added in chunk order, in double
  float* partial[kWeightChunks];
  for (size_t c = 0; c < chunks; ++c)
    if (!(partial[c] = ws.floats(kSlot + 3 * tasks + c, dw_len))) return false;
  parallel_claim(pool, chunks, [&](size_t t, size_t chunk) {
    const size_t n0 = chunk * d.N / chunks, n1 = (chunk + 1) * d.N / chunks;
    GemmDims gi = g;
    for (size_t n = n0; n < n1; ++n) {
      const float* cols = x + n * in_img;
      if (!direct) {
        im2col(s[t].col, PQ, cols, d);
        cols = s[t].col;
      }
      gi.beta = n == n0 ? 0.0f : 1.0f;
      gemm_serial(kern.gemm, s[t].apack, s[t].bpack, partial[chunk], dy + n * out_img, cols, gi);
    }
  });
  add_partials(pool, dw, partial, chunks, dw_len);
  return true;
}

// The weight gradient of a stride-1 convolution over few input channels (small_channels): the
// ISA's direct kernel (kernels/simd/conv_weight_small.h) sums a chunk of images per task, chunks
// as in backward_weight_chunked. Up to a dw of kSmallWeightMax floats (its per-lane partials, 16
// floats per value, stay in L2).
constexpr size_t kSmallWeightMax = size_t{4} << 10;

bool weight_small_applies(const Conv2dDims& d, const ConvKernels& kern) {
  return kern.weight_small && small_channels(d) && d.S <= 7 && d.K * d.C * d.R * d.S <= kSmallWeightMax;
}

bool backward_weight_small(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dw, const float* x,
                           const float* dy, const Conv2dDims& d) {
  const size_t dw_len = d.K * d.C * d.R * d.S, chunks = std::min<size_t>(d.N, kWeightChunks);
  const size_t tasks = std::min(static_cast<size_t>(pool.size()), chunks), scratch = kern.weight_small_scratch(d);
  float *partial[kWeightChunks], *buf[ThreadPool::kMaxThreads];
  for (size_t t = 0; t < tasks; ++t)
    if (!(buf[t] = ws.floats(kSlot + t, scratch))) return false;
  for (size_t c = 0; c < chunks; ++c)
    if (!(partial[c] = ws.floats(kSlot + tasks + c, dw_len))) return false;
  parallel_claim(pool, chunks, [&](size_t t, size_t chunk) {
    kern.weight_small(partial[chunk], buf[t], x, dy, d, chunk * d.N / chunks, (chunk + 1) * d.N / chunks);
  });
  add_partials(pool, dw, partial, chunks, dw_len);
  return true;
}

// The weight gradient when dw is large (ResNet-18's later stages): images are grouped into
// column blocks, and each group is one GEMM over all threads (its K dimension is images*PQ).
bool backward_weight_grouped(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dw, const float* x,
                             const float* dy, const Conv2dDims& d) {
  const size_t CRS = d.C * d.R * d.S, PQ = d.P * d.Q, in_img = d.C * d.H * d.W, out_img = d.K * PQ;
  const bool direct = pointwise(d);
  const size_t group = image_group(d);
  for (size_t n0 = 0; n0 < d.N; n0 += group) {
    const size_t gn = std::min(group, d.N - n0), L = gn * PQ;
    // One image: its columns and dy are already (CRS, PQ) / (K, PQ) matrices when 1x1.
    const float* cols = direct && gn == 1 ? x + n0 * in_img : nullptr;
    const float* dys = gn == 1 ? dy + n0 * out_img : nullptr;
    float* colbuf = cols ? nullptr : ws.floats(kSlot, CRS * L);
    float* dybuf = dys ? nullptr : ws.floats(kSlot + 1, d.K * L);
    if ((!cols && !colbuf) || (!dys && !dybuf)) return false;
    // by rows (channels), each thread writing whole rows of the group
    parallel_range(pool, std::max(d.C, d.K), 1, 1, [&](size_t r0, size_t r1) {
      const size_t c0 = std::min(r0, d.C), c1 = std::min(r1, d.C);
      if (colbuf && direct) {
        to_columns(colbuf, L, x + n0 * in_img, in_img, gn, c0, c1, PQ);
      } else if (colbuf) {
        im2col_images(colbuf, L, x + n0 * in_img, gn, c0, c1, d);
      }
      if (dybuf) to_columns(dybuf, L, dy + n0 * out_img, out_img, gn, std::min(r0, d.K), std::min(r1, d.K), PQ);
    });
    GemmDims g;  // dw(K, CRS) += dy_g(K, L) col_g^T(L, CRS)
    g.M = d.K, g.N = CRS, g.K = L;
    g.trans_b = true;
    g.lda = L, g.ldb = L, g.ldc = CRS;
    g.beta = 1.0f;
    if (!gemm(pool, ws, kern.gemm, dw, dys ? dys : dybuf, cols ? cols : colbuf, g, GemmBatch{})) return false;
  }
  return true;
}

}  // namespace

bool conv2d_backward_weight(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dw, float* db,
                            const float* x, const float* dy, const Conv2dDims& d) {
  if (d.N == 0) return true;
  if (winograd_applies(d, kern.winograd, true)) return winograd_backward_weight(pool, ws, kern.winograd, kern.sum, dw, db, x, dy, d);
  const size_t PQ = d.P * d.Q, out_img = d.K * PQ;
  const size_t dw_len = d.K * d.C * d.R * d.S;
  if (weight_small_applies(d, kern)) {
    if (!backward_weight_small(pool, ws, kern, dw, x, dy, d)) return false;
  } else if (small_images(d) && taps_apply(d, kern, TapsPass::backward_weight)) {
    if (!taps_backward_weight(pool, ws, kern, dw, x, dy, d, kTapsSlot)) return false;
  } else if ((rows_applies(d, kern) && dw_len <= rows_weight_max) || rows_weight_gathers(d, kern)) {
    if (!rows_backward_weight(pool, ws, kern, dw, x, dy, d, kSlot)) return false;
  } else {
    const bool chunked = dw_len <= kWeightChunkedMax && d.N >= 2;
    if (!(chunked ? backward_weight_chunked : backward_weight_grouped)(pool, ws, kern, dw, x, dy, d)) return false;
  }
  if (db) {
    // each channel summed by one thread, image by image in order
    parallel_range(pool, d.K, std::max<size_t>(1, kMapGrain / std::max<size_t>(1, d.N * PQ)), 1, [&](size_t k0, size_t k1) {
      for (size_t k = k0; k < k1; ++k) {
        double acc = 0.0;
        for (size_t n = 0; n < d.N; ++n) acc += kern.sum(dy + n * out_img + k * PQ, PQ);
        db[k] = static_cast<float>(db[k] + acc);
      }
    });
  }
  return true;
}

}  // namespace kiln
