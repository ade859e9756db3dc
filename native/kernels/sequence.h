// The sequence kernels (layer norm, softmax and log-softmax, softmax cross-entropy, GELU, dropout,
// embedding): declared once here for every ISA namespace, included by kernels.h.
//
// Rows are the last axis, contiguous: a (rows, d) matrix, row r at x + r*d. Row kernels take the
// rows they are given (the runtime offsets the pointers and splits rows over the pool); every row
// is computed start to end by one call, so results never depend on the thread count.
// Backward kernels accumulate (+=). NOTE: no inline functions here: this header is compiled into
// the AVX2 and AVX-512 libraries too (see DESIGN.md on COMDAT copies).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace kiln {

// Softmax cross-entropy over rows of V logits against int32 targets (PyTorch's cross_entropy):
//   loss_r = (1 - eps) * (lse_r - z[r, t_r]) + eps * (lse_r - mean_c z[r, c]),  lse_r = log sum_c exp z[r, c]
// i.e. -sum_c q_c log softmax(z_r)_c with q = (1 - eps) onehot(t_r) + eps / V. Rows whose target
// is ignore_index contribute nothing (the binding has checked every other target is in [0, V)).
// The log-sum-exp is saved as a pair of floats, (max, log sum exp(z - max)), not as one float:
// with logits near 1e4 a float lse is off by up to 5e-4, and exp(z - lse) by as much relatively;
// z - max is exact near the maximum, where the probabilities are large.
struct CrossEntropyDims {
  size_t V;
  int32_t ignore_index;
  float label_smoothing;  // eps in [0, 1]
};

// Dropout with a counter-based generator: element i (its index in the whole tensor) is kept when
// bits24(hash(seed, i)) >= threshold, and then scaled. The caller computes threshold =
// round(p * 2^24) (0: keep all, 2^24: drop all) and scale = 1 / (1 - p) (0 when p == 1), once,
// so every ISA uses the same float. The mask is a function of (seed, i) only: backward regenerates
// it, and no thread count or ISA changes it.
struct DropoutDims {
  uint64_t seed;
  uint32_t threshold;
  float scale;
};

// The dims of drop probability p in [0, 1]: keep when 24 hash bits >= round(p 2^24), so
// P(keep) = 1 - p to within 2^-25. static inline: baseline code and ISA libraries each compile
// their own copy (a shared COMDAT copy could carry wider instructions).
static inline DropoutDims make_dropout(double p, uint64_t seed) {
  return {seed, static_cast<uint32_t>(std::nearbyint(p * 16777216.0)), p < 1 ? static_cast<float>(1.0 / (1.0 - p)) : 0.0f};
}

#define KILN_DECLARE_SEQUENCE_KERNELS(ns)                                                                    \
  namespace ns {                                                                                             \
  /* x, y:(rows, d); mean, rstd:(rows) saved for backward; gamma, beta:(d) or nullptr (1 and 0) */          \
  /* y = (x - mean) * rstd * gamma + beta, rstd = 1 / sqrt(var + eps), var biased */                        \
  void layer_norm_forward_f32(float* y, float* mean, float* rstd, const float* x, const float* gamma,         \
                              const float* beta, float eps, size_t rows, size_t d);                          \
  /* dx:(rows, d) += ... (or nullptr); dgamma, dbeta:(d) += sums over these rows (double partials, */       \
  /* or nullptr). The caller passes at most kLayerNormChunk rows when it wants the sums. */                  \
  void layer_norm_backward_f32(float* dx, double* dgamma, double* dbeta, const float* dy, const float* x,    \
                               const float* gamma, const float* mean, const float* rstd, size_t rows,        \
                               size_t d);                                                                    \
  /* y = softmax(x) per row; y may be x (in place) */                                                        \
  void softmax_forward_f32(float* y, const float* x, size_t rows, size_t d);                                 \
  /* forward was y = softmax(x): dx += y * (dy - sum(dy * y)) */                                             \
  void softmax_backward_f32(float* dx, const float* dy, const float* y, size_t rows, size_t d);             \
  /* y = x - max - log sum exp(x - max) per row; y may be x */                                               \
  void log_softmax_forward_f32(float* y, const float* x, size_t rows, size_t d);                             \
  /* forward was y = log_softmax(x): dx += dy - exp(y) * sum(dy) */                                          \
  void log_softmax_backward_f32(float* dx, const float* dy, const float* y, size_t rows, size_t d);         \
  /* logits:(rows, V), targets:(rows) -> lse:(rows, 2) the log-sum-exp of each row as the pair */          \
  /* (max, log sum exp(z - max)), loss:(rows) per-row losses in double; 0 for ignored rows */               \
  void cross_entropy_forward_f32(float* lse, double* loss, const float* logits, const int32_t* targets,      \
                                 const CrossEntropyDims& d, size_t rows);                                    \
  /* dlogits += scale * (exp(z - lse) - q) for the rows not ignored; scale = upstream / count */             \
  void cross_entropy_backward_f32(float* dlogits, const float* logits, const int32_t* targets,              \
                                  const float* lse, float scale, const CrossEntropyDims& d, size_t rows);    \
  /* y:(n) = x * Phi(x), Phi the standard normal CDF (PyTorch's gelu, approximate='none') */                 \
  void gelu_forward_f32(float* y, const float* x, size_t n);                                                 \
  /* dx += dy * (Phi(x) + x * phi(x)) */                                                                     \
  void gelu_backward_f32(float* dx, const float* dy, const float* x, size_t n);                             \
  /* y = x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3) (approximate='tanh'); = x sigmoid(2u) */       \
  void gelu_tanh_forward_f32(float* y, const float* x, size_t n);                                            \
  void gelu_tanh_backward_f32(float* dx, const float* dy, const float* x, size_t n);                        \
  /* y:(n) = x * (keep(start + i) ? scale : 0): x[0] is element `start` of the whole tensor */              \
  void dropout_forward_f32(float* y, const float* x, const DropoutDims& d, uint64_t start, size_t n);       \
  /* dx += dy * (keep ? scale : 0), the same mask */                                                         \
  void dropout_backward_f32(float* dx, const float* dy, const DropoutDims& d, uint64_t start, size_t n);    \
  }

KILN_DECLARE_SEQUENCE_KERNELS(ref)
KILN_DECLARE_SEQUENCE_KERNELS(avx2)
KILN_DECLARE_SEQUENCE_KERNELS(avx512)

#undef KILN_DECLARE_SEQUENCE_KERNELS

// Rows per call of layer_norm_backward_f32 when it sums dgamma/dbeta: the SIMD variants add a
// chunk's rows in float lanes, then the chunk's sums in double.
constexpr size_t kLayerNormChunk = 32;

namespace ref {
// The 32-bit hash of element i under `seed` behind dropout's mask (all ISAs compute the same).
uint32_t dropout_hash(uint64_t seed, uint64_t i);

// Embedding: ids:(n) in [0, vocab) (checked by the binding), table:(vocab, d) -> y:(n, d), rows
// [i0, i1) of y. A gather is a copy: no SIMD variant pays.
void embedding_forward_f32(float* y, const int32_t* ids, const float* table, size_t d, size_t i0, size_t i1);
// dtable[ids[i]] += dy[i] for every i whose id is in [v0, v1), in order of i: the runtime splits
// the vocabulary over threads, so every table row is summed by one thread in one order.
void embedding_backward_f32(float* dtable, const int32_t* ids, const float* dy, size_t n, size_t d, size_t v0,
                            size_t v1);
}  // namespace ref

}  // namespace kiln
