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
};

// One register tile of the blocked GEMM (see runtime/gemm.cc for the loops around it):
//   C[0:mr, 0:nr] = alpha * sum_k A(i, k) * b[k*b_rs + j]  (+ beta * C if beta != 0)
// and, when `last` (the final block of K), + bias and the activation. A(i, k) is a[k*MR + i] in
// a packed panel of MR rows per k (a_rs = 0; zero-padded past mr), or a[i*a_rs + k] read in place
// from a row-major A (a_rs = lda; only rows < mr are read). `b` is either a packed panel (b_rs =
// NR, zero-padded past nr) or B itself (b_rs = ldb; only columns < nr are read).
struct GemmTile {
  size_t k;
  const float* a;
  size_t a_rs;
  const float* b;
  size_t b_rs;
  float* c;
  size_t ldc;
  size_t mr, nr;  // valid rows and columns, 1..MR and 1..NR
  float alpha, beta;
  bool last;
  const float* bias_row;  // at this tile's first row, or nullptr
  const float* bias_col;  // at this tile's first column, or nullptr
  Act act;
};

// The register-tile size of each ISA's micro-kernel.
struct GemmShape {
  size_t mr, nr;
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
void gemm_pack_b_f32(float* out, const float* b, size_t ldb, bool trans, size_t nc, size_t kc);
}  // namespace avx2
namespace avx512 {
constexpr GemmShape kGemmShape{12, 32};
void gemm_tile_f32(const GemmTile& t);
double fma_peak_f32(size_t iters);
// Packing into the tile's layout: `a` points at op(A)[i0, p0] and mc rows become ceil(mc/MR)
// slivers of kc x MR (out[s][k][r], zero past mc); `b` points at op(B)[p0, j0] and nc columns
// become ceil(nc/NR) slivers of kc x NR (out[s][k][j], zero past nc).
void gemm_pack_a_f32(float* out, const float* a, size_t lda, bool trans, size_t mc, size_t kc);
void gemm_pack_b_f32(float* out, const float* b, size_t ldb, bool trans, size_t nc, size_t kc);
}  // namespace avx512

namespace ref {
// The readable GEMM: three loops in double, rows [m0, m1) of C. The oracle for every blocked
// variant, and the portable path.
void gemm_f32(float* c, const float* a, const float* b, const GemmDims& d, size_t m0, size_t m1);
// The activations in double, shared by the reference GEMM and the tests' expectations.
double act_f64(Act act, double x);
}  // namespace ref

}  // namespace kiln
