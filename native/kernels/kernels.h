// The kernel contract: every kernel is declared once here, for every ISA namespace.
//
// Conventions (see ../shared/DESIGN.md):
//  - arguments go outputs, inputs, scalars/dims; every pointer has a shape comment;
//  - backward kernels accumulate (+=) into gradient buffers, because residual fan-out needs it;
//  - kernels never throw, never allocate, never touch Node-API (this header never includes napi.h);
//  - kernels are single-threaded over the range they are given; the runtime splits work across the
//    thread pool so that results do not depend on the thread count;
//  - an output may alias an input exactly (in-place), but never overlap it partially.
#pragma once

#include <cstddef>
#include <cstdint>

#include "optim.h"  // SgdStep, AdamStep and the optimizer kernels
#include "sequence.h"  // layer norm, softmax, cross-entropy, GELU, dropout, embedding

namespace kiln {

// ---- GEMM -------------------------------------------------------------------------------------
// Row-major throughout. C(M, N) = act(alpha * op(A) op(B) + beta * C + bias), where op(A) is
// (M, K) and op(B) is (K, N); A is stored (M, lda) or, transposed, (K, lda); B is stored (K, ldb)
// or, transposed, (N, ldb). beta == 0 means C is not read (it may hold garbage or NaN), as in
// BLAS; everything else is IEEE arithmetic (alpha == 0 still multiplies, so Inf*0 gives NaN).

enum class Act : int { none = 0, relu = 1, gelu = 2 };  // gelu: x * Phi(x), the exact erf form (PyTorch's default)

struct GemmEpilogue {
  const float* bias_row = nullptr;  // (M) added to every column of row i, or nullptr
  const float* bias_col = nullptr;  // (N) added to every row at column j, or nullptr
  Act act = Act::none;
};

struct GemmDims {
  size_t M = 0, N = 0, K = 0;
  bool trans_a = false, trans_b = false;
  size_t lda = 0, ldb = 0, ldc = 0;
  float alpha = 1.0f, beta = 0.0f;
  GemmEpilogue epilogue;
  // When set (trans_b false only): row p of B is at b + b_rows[p], for p < K, instead of
  // b + p*ldb (ldb unused). Convolution reads its input windows this way without copying them:
  // the rows of its im2col matrix are overlapping runs of one padded image.
  const long* b_rows = nullptr;
  // With b_rows, when set: B[p, j] = b[b_rows[p] + b_taps[j / b_run] + j % b_run], runs of b_run
  // columns (a multiple of half the tile's NR for the SIMD tiles) placed apart: a convolution's
  // windows, pixels on the rows, one run of C channels per tap.
  const long* b_taps = nullptr;
  size_t b_run = 0;
  // When set (trans_a false only): A[i, p] = a[a_rows[i] + a_taps[p / a_run] + p % a_run], read
  // in place, never packed; K is a multiple of a_run. A convolution's windows in a channels-last
  // plane: row i is an output pixel, each run of a_run = C floats one tap of its window.
  const long* a_rows = nullptr;
  const long* a_taps = nullptr;
  size_t a_run = 0;
  // B is already in the tile's packed layout (trans_b false, no b_rows): NR-column slivers of
  // all K rows each (sliver s at b + s*NR*K, zero past N), as pack_b makes them with kc = K.
  // For a B shared by many GEMMs (a convolution's weight over groups of images): packed once.
  bool b_packed = false;
  // When set: row i of C is at c + c_rows[i] (ldc unused). A strided convolution's input
  // gradient, one stride phase at a time, stores its pixels where they sit in the full image.
  const long* c_rows = nullptr;
};

// One register tile of the blocked GEMM (see runtime/gemm.cc for the loops around it):
//   C[0:mr, 0:nr] = alpha * sum_k A(i, k) * b[k*b_rs + j]  (+ beta * C if beta != 0)
// and, when `last` (the final block of K), + bias and the activation. A(i, k) is a[k*MR + i] in
// a packed panel of MR rows per k (a_rs = 0; zero-padded past mr), or a[i*a_rs + k] read in place
// from a row-major A (a_rs = lda; only rows < mr are read). `b` is either a packed panel (b_rs =
// NR, zero-padded past nr) or B itself (b_rs = ldb, or b_off's row offsets; only columns < nr are
// read).
struct GemmTile {
  size_t k;
  const float* a;
  size_t a_rs;
  const float* b;
  size_t b_rs;
  const long* b_off = nullptr;  // when set: row p of b is at b + b_off[p] (b_rs unused)
  // With b_off: the row's second vector (columns NR/2 on) is at b + b_off[p] + b_hi, not right
  // after the first (GemmDims::b_taps with runs of NR/2: the two halves are different taps).
  long b_hi = 0;
  // When set: A(i, k) is a[a_off[i] + a_taps[k / a_run] + k % a_run] (GemmDims::a_rows; a_rs
  // unused), k is a multiple of a_run, and b is a packed panel (b_rs = NR, no b_off).
  const long* a_off = nullptr;
  const long* a_taps = nullptr;
  size_t a_run = 0;
  const long* c_off = nullptr;  // when set (with a_off only): row r of C is at c + c_off[r] (GemmDims::c_rows)
  float* c;
  size_t ldc;
  size_t mr, nr;  // valid rows and columns, 1..MR and 1..NR
  float alpha, beta;
  bool last;
  const float* bias_row;  // at this tile's first row, or nullptr
  const float* bias_col;  // at this tile's first column, or nullptr
  Act act;
};

// The register-tile size of each ISA's micro-kernel, and how many rows of B ahead its k loop
// fetches (0: it leaves that to the hardware prefetcher).
struct GemmShape {
  size_t mr, nr;
  size_t b_ahead = 0;
};

// Declares the same set of kernels in one ISA namespace. Each ISA library (ref, avx2, avx512)
// defines them in its own namespace; dispatch/ picks one per op at run time.
#define KILN_DECLARE_KERNELS(ns)                                                               \
  namespace ns {                                                                               \
  /* y:(n) = a:(n) + b:(n) */                                                                  \
  void add_f32(float* y, const float* a, const float* b, size_t n);                            \
  /* y:(n) = a:(n) * b:(n) */                                                                  \
  void mul_f32(float* y, const float* a, const float* b, size_t n);                            \
  /* y:(n) += alpha * x:(n) */                                                                 \
  void axpy_f32(float* y, float alpha, const float* x, size_t n);                              \
  /* y:(n) = alpha * x:(n) */                                                                  \
  void scale_f32(float* y, const float* x, float alpha, size_t n);                             \
  /* y:(n) = max(x:(n), 0) */                                                                  \
  void relu_forward_f32(float* y, const float* x, size_t n);                                   \
  /* dx:(n) += dy:(n) where x:(n) > 0; the gradient at x == 0 is taken as 0 (as PyTorch) */    \
  void relu_backward_f32(float* dx, const float* dy, const float* x, size_t n);                \
  /* returns sum of x:(n); float32 lanes inside, double across lanes */                        \
  double sum_f32(const float* x, size_t n);                                                    \
  /* returns sum of x:(n)^2 */                                                                 \
  double sumsq_f32(const float* x, size_t n);                                                  \
  /* y:(cols) += column sums of x:(rows, ld)[:, 0:cols]; the bias gradient of a Linear layer */\
  void column_sum_f32(float* y, const float* x, size_t rows, size_t cols, size_t ld);          \
  /* Batch norm over `planes` consecutive planes of `hw` floats (runtime/batchnorm.cc), */     \
  /* each with its own parameters (shift[p], mean[p], ...) and sums (sums[2p], sums[2p+1]). */ \
  /* Sums: float lanes within a block of a plane, double across blocks; a value's lane */      \
  /* depends on its index in the plane only, never on addresses. */                            \
  /* sums[2p] += sum of (x - shift[p]), sums[2p+1] += sum of (x - shift[p])^2 */               \
  void batch_norm_moments_f32(double* sums, const float* x, const float* shift, size_t planes, \
                              size_t hw);                                                      \
  /* y = (x - mean[p]) * scale[p] + bias[p], plus res (the residual, in float; nullptr: */   \
  /* none), then max(., 0) if relu; mask (nullptr: none) gets the bits of y > 0 (see */        \
  /* batch_norm_mask_stride) */                                                                \
  void batch_norm_apply_f32(float* y, uint8_t* mask, const float* x, const float* res,         \
                            const double* mean, const float* scale, const float* bias,         \
                            bool relu, size_t planes, size_t hw);                              \
  /* sums[2p] += sum of g, sums[2p+1] += sum of g * (x - mean[p]); g = dy where the fused */   \
  /* ReLU passed: the bits of mask when not nullptr, else y > 0 when y is not nullptr; else */ \
  /* g = dy */                                                                                 \
  void batch_norm_grad_sums_f32(double* sums, const float* dy, const float* x, const float* y, \
                                const uint8_t* mask, const float* mean, size_t planes,         \
                                size_t hw);                                                    \
  /* dx += a[p] * g + b[p] * (x - mean[p]) + c[p], g as above; dres += g (the residual's */ \
  /* gradient). Either output may be nullptr (skipped). */                                     \
  void batch_norm_grad_input_f32(float* dx, float* dres, const float* dy, const float* x,      \
                                 const float* y, const uint8_t* mask, const float* mean,       \
                                 const float* a, const float* b, const float* c,               \
                                 size_t planes, size_t hw);                                    \
  }

KILN_DECLARE_KERNELS(ref)
KILN_DECLARE_KERNELS(avx2)
KILN_DECLARE_KERNELS(avx512)

#undef KILN_DECLARE_KERNELS

// The GEMM micro-kernels of the SIMD levels and their register-tile sizes. The sizes are
// constants here, not functions in the ISA libraries: baseline code reads them on CPUs that
// cannot run a single instruction of those libraries.
// fma_peak_f32 runs `iters` rounds of 12 independent vector FMAs (12 * lanes * 2 flops each) and
// returns a value that depends on them: the peak probe of the benchmarks.
namespace avx2 {
constexpr GemmShape kGemmShape{6, 16};
void gemm_tile_f32(const GemmTile& t);
double fma_peak_f32(size_t iters);
void gemm_pack_a_f32(float* out, const float* a, size_t lda, bool trans, size_t mc, size_t kc);  // as avx512's
void gemm_pack_b_f32(float* out, const float* b, size_t ldb, bool trans, size_t nc, size_t kc, size_t ks);
void transpose_f32(float* dst, size_t ldd, const float* src, size_t lds, size_t rows, size_t cols, bool add);  // as avx512's
}  // namespace avx2
namespace avx512 {
constexpr GemmShape kGemmShape{12, 32, 16};
void gemm_tile_f32(const GemmTile& t);
double fma_peak_f32(size_t iters);
// Packing into the tile's layout: `a` points at op(A)[i0, p0] and mc rows become ceil(mc/MR)
// slivers of kc x MR (out[s][k][r], zero past mc); `b` points at op(B)[p0, j0] and nc columns
// become ceil(nc/NR) slivers of kc x NR (out[s][k][j], zero past nc), ks rows apart (ks >= kc:
// threads that share a B block each pack some of its rows into the whole block's slivers).
void gemm_pack_a_f32(float* out, const float* a, size_t lda, bool trans, size_t mc, size_t kc);
void gemm_pack_b_f32(float* out, const float* b, size_t ldb, bool trans, size_t nc, size_t kc, size_t ks);
// dst[j*ldd + i] = src[i*lds + j] (or += when add) for i < rows, j < cols; nothing else is written
void transpose_f32(float* dst, size_t ldd, const float* src, size_t lds, size_t rows, size_t cols, bool add);
}  // namespace avx512

namespace ref {
// The readable GEMM: three loops in double, rows [m0, m1) of C. The oracle for every blocked
// variant, and the portable path.
void gemm_f32(float* c, const float* a, const float* b, const GemmDims& d, size_t m0, size_t m1);
// The activations in double, shared by the reference GEMM and the tests' expectations.
double act_f64(Act act, double x);
}  // namespace ref

// ---- Convolution, pooling, normalization (NCHW) ------------------------------------------------
// Planes are (H, W) row-major; a "plane index" is n*C + c. Kernels that take [x0, x1) ranges
// work on that part only (the runtime splits work over threads by those ranges).

// x:(N,C,H,W) w:(K,C,R,S) -> y:(N,K,P,Q). Output row p reads input rows p*stride_h - pad_h +
// r*dil_h for r < R; rows outside [0, H) read zeros. pad_h/pad_w are the top/left padding; the
// bottom/right padding is whatever P and Q imply (the caller computes P, Q from all four pads).
struct Conv2dDims {
  size_t N, C, H, W;
  size_t K, R, S;
  size_t P, Q;
  size_t stride_h, stride_w;
  size_t pad_h, pad_w;
  size_t dil_h, dil_w;
};

// Pooling windows: output row p covers input rows [p*stride_h - pad_h, + R), clipped to the input
// (max) or to the padded input (average with count_include_pad, as PyTorch). P, Q come from the
// caller (ceil mode is a choice of P, Q).
struct Pool2dDims {
  size_t N, C, H, W;
  size_t R, S;
  size_t P, Q;
  size_t stride_h, stride_w;
  size_t pad_h, pad_w;
};

// The ResNet paper's shortcut option A: x:(N,C,H,W) -> y:(N,K,P,Q), K >= C, P = ceil(H/stride):
// y[n, offset + c, p, q] = x[n, c, p*stride, q*stride]; the other K - C channels are zero.
struct ShortcutDims {
  size_t N, C, H, W;
  size_t K, P, Q;
  size_t stride;
  size_t offset;  // zero channels before the copied ones
};

// The fused ReLU's mask as bits, y > 0 for each value: a quarter of a float's bit per value, so a
// backward pass reads 1/32 of what reading y back would. Plane p (= n * C + c) starts at byte
// p * batch_norm_mask_stride(hw); its value i is bit i % 8 of byte i / 8. Bits past hw are
// unspecified. The stride is whole 32-bit words (JS holds the mask in an Int32Array), which also
// covers the 16-bit stores of the AVX-512 pass.
constexpr size_t batch_norm_mask_stride(size_t hw) { return 4 * ((hw + 31) / 32); }

// Batch normalization over (N, C, HW): statistics per channel over N*HW values.
struct BatchNormDims {
  size_t N, C, HW;
  float eps;       // added to the variance
  float momentum;  // running = (1 - momentum) * running + momentum * batch statistic
  bool relu;       // fused: y = max(bn(x), 0)
};

namespace ref {
// The readable references (direct loops, double accumulation): the oracle for the fast paths
// in runtime/ and the path on CPUs without a SIMD level.
// y = conv(x, w) + b (b:(K) may be nullptr), images [n0, n1)
void conv2d_forward_f32(float* y, const float* x, const float* w, const float* b, const Conv2dDims& d, size_t n0,
                        size_t n1);
// dx[n0:n1] += conv2d^T(dy, w)
void conv2d_backward_data_f32(float* dx, const float* dy, const float* w, const Conv2dDims& d, size_t n0, size_t n1);
// dw[k0:k1] += sum over n, p, q of dy * x-window; db[k0:k1] += sum of dy (db may be nullptr)
void conv2d_backward_weight_f32(float* dw, float* db, const float* x, const float* dy, const Conv2dDims& d, size_t k0,
                                size_t k1);

// y:(N,C,P,Q) = window maxima of x:(N,C,H,W); argmax:(N,C,P,Q) = h*W + w of each maximum within
// its plane (the first one in scan order on ties; NaN wins, as PyTorch). Planes [c0, c1).
void max_pool2d_forward_f32(float* y, int32_t* argmax, const float* x, const Pool2dDims& d, size_t c0, size_t c1);
// dx[plane][argmax] += dy
void max_pool2d_backward_f32(float* dx, const float* dy, const int32_t* argmax, const Pool2dDims& d, size_t c0,
                             size_t c1);
// y = window means; the divisor counts padding cells (count_include_pad) or only input cells.
// NOTE: float sums in scan order, not double: that is PyTorch's arithmetic, bit for bit.
void avg_pool2d_forward_f32(float* y, const float* x, const Pool2dDims& d, bool count_include_pad, size_t c0,
                            size_t c1);
void avg_pool2d_backward_f32(float* dx, const float* dy, const Pool2dDims& d, bool count_include_pad, size_t c0,
                             size_t c1);
// y:(planes) = mean of each plane of x:(planes, hw); backward dx += dy / hw
void global_avg_pool2d_forward_f32(float* y, const float* x, size_t hw, size_t c0, size_t c1);
void global_avg_pool2d_backward_f32(float* dx, const float* dy, size_t hw, size_t c0, size_t c1);

// images [n0, n1)
void shortcut_a_forward_f32(float* y, const float* x, const ShortcutDims& d, size_t n0, size_t n1);
void shortcut_a_backward_f32(float* dx, const float* dy, const ShortcutDims& d, size_t n0, size_t n1);

// Training: batch statistics (biased variance normalizes; the unbiased one updates running_var),
// saves mean and 1/sqrt(var + eps) per channel for backward. gamma/beta may be nullptr (1 and 0);
// running_* may be nullptr (not tracked). res:(N,C,H,W), when not nullptr, is added to the
// normalized value (in float, as a separate add would) before the ReLU: a residual block's
// bn2 + shortcut + ReLU in one pass. Channels [c0, c1).
// mask (nullptr: none; d.relu only) gets the bits of y > 0 (batch_norm_mask_stride).
void batch_norm_forward_train_f32(float* y, uint8_t* mask, float* save_mean, float* save_invstd, float* running_mean,
                                  float* running_var, const float* x, const float* res, const float* gamma,
                                  const float* beta, const BatchNormDims& d, size_t c0, size_t c1);
// Evaluation: normalizes with the running statistics.
void batch_norm_forward_eval_f32(float* y, uint8_t* mask, const float* x, const float* res, const float* gamma,
                                 const float* beta, const float* running_mean, const float* running_var,
                                 const BatchNormDims& d, size_t c0, size_t c1);
// dx += ..., dgamma += sum(dy * xhat), dbeta += sum(dy), dres += dy (each may be nullptr). With
// d.relu, dy is first masked by the fused forward's ReLU: its mask bits, or y > 0 without them (y
// is the forward's output). training: mean/invstd are the saved batch statistics and dx includes
// their gradient; otherwise they are the running ones.
void batch_norm_backward_f32(float* dx, float* dres, float* dgamma, float* dbeta, const float* dy, const float* x,
                             const float* y, const uint8_t* mask, const float* gamma, const float* mean,
                             const float* invstd, bool training, const BatchNormDims& d, size_t c0, size_t c1);
}  // namespace ref

// The pixel-major lowering's window copies (runtime/conv_rows.cc; kernels/simd/im2row.h):
// im2row: rows:(P*Q, R*S*C) from the zero-padded channels-last plane xp:(Hq, wq, C);
// row2im_add: the backward, xp += every window of rows added back where im2row took it from.
// conv_weight_small: dw:(K, C, R, S) = the weight gradient of images [n0, n1) (overwritten), for
// stride 1, dilation 1 and S <= 7, with conv_weight_small_scratch floats of scratch
// (kernels/simd/conv_weight_small.h). conv_forward_small (AVX-512): y = conv(x, w) + b for images
// [n0, n1), stride 1 and dilation 1, with conv_forward_small_scratch floats
// (kernels/simd/conv_forward_small.h).
namespace avx2 {
void im2row_f32(float* rows, const float* xp, size_t wq, const Conv2dDims& d);
void row2im_add_f32(float* xp, const float* rows, size_t wq, const Conv2dDims& d);
void conv_weight_small_f32(float* dw, float* scratch, const float* x, const float* dy, const Conv2dDims& d, size_t n0,
                           size_t n1);
size_t conv_weight_small_scratch(const Conv2dDims& d);
// as ref::max_pool2d_forward_f32, bit for bit (stride 1 and 2 along w in vectors)
void max_pool2d_forward_f32(float* y, int32_t* argmax, const float* x, const Pool2dDims& d, size_t c0, size_t c1);
}  // namespace avx2
namespace avx512 {
void im2row_f32(float* rows, const float* xp, size_t wq, const Conv2dDims& d);
void row2im_add_f32(float* xp, const float* rows, size_t wq, const Conv2dDims& d);
void conv_weight_small_f32(float* dw, float* scratch, const float* x, const float* dy, const Conv2dDims& d, size_t n0,
                           size_t n1);
size_t conv_weight_small_scratch(const Conv2dDims& d);
void conv_forward_small_f32(float* y, float* scratch, const float* x, const float* w, const float* b,
                            const Conv2dDims& d, size_t n0, size_t n1);
size_t conv_forward_small_scratch(const Conv2dDims& d);
// as ref::max_pool2d_forward_f32, bit for bit (stride 1 and 2 along w in vectors)
void max_pool2d_forward_f32(float* y, int32_t* argmax, const float* x, const Pool2dDims& d, size_t c0, size_t c1);
}  // namespace avx512

}  // namespace kiln
