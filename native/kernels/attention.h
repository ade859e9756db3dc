// The attention kernel contract (conventions as kernels.h: outputs first, backward accumulates,
// no allocation, no Node-API, single-threaded over the range given).
//
// Scaled dot-product attention of queries (B, H, Tq, D) against keys and values (B, H, Tk, D):
//   out[b,h,i] = sum_j softmax_j(scale * q[b,h,i] . k[b,h,j] over visible j) * keep(j) v[b,h,j]
// Query i of batch row b sees keys [0, limit(b, i)), a prefix (see attention_limit): the key
// padding mask cuts at key_lengths[b], the causal mask at i + Tk - Tq + 1 (the last query sees
// every key, as in decoding with a cache). A query that sees no key gets zeros and lse = -inf.
// `lse` (B, H, Tq) holds log(sum_j exp(scale * q.k_j)) per query, all backward needs besides
// the inputs and the output (flash-attention style: no Tq x Tk matrix is ever stored).
// With dropout p > 0, each probability is kept with probability 1 - p and scaled by 1/(1 - p):
// the dropout kernels' mask (sequence.h) over the probabilities' index in (B, H, Tq, Tk), so it
// is regenerated in backward and independent of the thread count, the ISA and the blocking.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "sequence.h"

namespace kiln {

// Element (b, h, t, d) of a (B, H, T, D)-shaped operand is at b*sb + h*sh + t*st + d: the same
// kernels read (B, H, T, D) and (B, T, H, D) layouts and key/value caches longer than Tk.
struct AttentionStrides {
  size_t sb, sh, st;
  size_t at(size_t b, size_t h, size_t t) const { return b * sb + h * sh + t * st; }
};

struct AttentionDims {
  size_t B, H, Tq, Tk, D;
  AttentionStrides q;   // q and dq
  AttentionStrides o;   // out and dout (q's strides, unless q is packed with k and v in one row)
  AttentionStrides kv;  // k, v, dk and dv
  float scale;          // usually 1/sqrt(D)
  bool causal;
  const int32_t* key_lengths;  // (B), or nullptr: every key is real
  float dropout;               // probability of dropping, in [0, 1); 0: no dropout
  DropoutDims drop;            // its mask and scale (make_dropout(dropout, seed))
};

// Keys [0, limit) are visible to query i of batch row b. static inline: every ISA library and
// the baseline code compile their own copy (a shared COMDAT copy could carry AVX-512 code).
static inline size_t attention_limit(const AttentionDims& d, size_t b, size_t i) {
  long lim = static_cast<long>(d.Tk);
  if (d.key_lengths) lim = std::min<long>(lim, d.key_lengths[b]);
  if (d.causal) lim = std::min<long>(lim, static_cast<long>(i + d.Tk) - static_cast<long>(d.Tq) + 1);
  return lim > 0 ? static_cast<size_t>(lim) : 0;
}

// The index of probability (b, h, i, j) in (B, H, Tq, Tk): the dropout mask's counter.
static inline uint64_t attention_index(const AttentionDims& d, size_t b, size_t h, size_t i, size_t j) {
  return ((static_cast<uint64_t>(b) * d.H + h) * d.Tq + i) * d.Tk + j;
}

// The dropout factor of probability (b, h, i, j): d.drop.scale when kept, else 0 (as the dropout
// kernels compute it).
static inline float attention_keep(const AttentionDims& d, size_t b, size_t h, size_t i, size_t j) {
  return (ref::dropout_hash(d.drop.seed, attention_index(d, b, h, i, j)) >> 8) >= d.drop.threshold ? d.drop.scale : 0.0f;
}

namespace ref {
// The readable attention: direct loops in double, over the (b, h) pairs [bh0, bh1) (bh = b*H + h).
// The oracle for the tiled path (runtime/attention.cc) and the path on CPUs without a SIMD level.
void attention_forward_f32(float* out, float* lse, const float* q, const float* k, const float* v,
                           const AttentionDims& d, size_t bh0, size_t bh1);
// dq, dk, dv += the gradients (any of them may be nullptr), given dout and the forward's out, lse.
void attention_backward_f32(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                            const float* v, const float* out, const float* lse, const AttentionDims& d, size_t bh0,
                            size_t bh1);
}  // namespace ref

// The row pieces of the tiled path, per ISA. A block is `rows` rows of `cols` scores, row r at
// s + r*ld; only its first lim[r] (<= cols) entries are visible, the rest become 0.
#define KILN_DECLARE_ATTENTION_KERNELS(ns)                                                        \
  namespace ns {                                                                                  \
  /* Online softmax, one key block: m[r] = max(m[r], visible scores), s = exp(s - m[r]) (0 past */ \
  /* lim), l[r] = l[r] * alpha[r] + sum of the new s, alpha[r] = exp(old m - new m) (1 when the */ \
  /* row has nothing visible in this block). */                                                  \
  void attention_softmax_block_f32(float* s, size_t ld, size_t rows, size_t cols, const uint32_t* lim, \
                                   float* m, float* l, float* alpha);                             \
  /* Backward: p = exp(s - lse[r]) (0 past lim), in place. */                                     \
  void attention_probs_f32(float* s, size_t ld, size_t rows, size_t cols, const uint32_t* lim,    \
                           const float* lse);                                                     \
  /* Backward: dp = p * (dp - di[r]), in place: the score gradient. */                           \
  void attention_dscores_f32(float* dp, const float* p, size_t ld, size_t rows, size_t cols,     \
                             const float* di);                                                    \
  }

KILN_DECLARE_ATTENTION_KERNELS(ref)
KILN_DECLARE_ATTENTION_KERNELS(avx2)
KILN_DECLARE_ATTENTION_KERNELS(avx512)

#undef KILN_DECLARE_ATTENTION_KERNELS

}  // namespace kiln
