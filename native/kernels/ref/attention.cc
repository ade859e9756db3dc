// The readable attention (double accumulation) and the scalar row pieces of the tiled path.
// Each query row is done in three passes over its visible keys (the maximum, the normaliser,
// the output), recomputing the dot products instead of storing a row of Tk scores: kernels do
// not allocate, and this is the oracle, not the fast path.
#include <cmath>
#include <limits>

#include "../attention.h"

namespace kiln::ref {
namespace {

constexpr size_t kMaxHead = 1024;  // the binding rejects larger heads

double dot(const float* a, const float* b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

}  // namespace

void attention_forward_f32(float* out, float* lse, const float* q, const float* k, const float* v,
                           const AttentionDims& d, size_t bh0, size_t bh1) {
  double acc[kMaxHead];
  for (size_t bh = bh0; bh < bh1; ++bh) {
    const size_t b = bh / d.H, h = bh % d.H;
    for (size_t i = 0; i < d.Tq; ++i) {
      const float* qi = q + d.q.at(b, h, i);
      float* oi = out + d.o.at(b, h, i);
      const size_t lim = attention_limit(d, b, i);
      double m = -std::numeric_limits<double>::infinity();
      for (size_t j = 0; j < lim; ++j) m = std::fmax(m, d.scale * dot(qi, k + d.kv.at(b, h, j), d.D));
      double l = 0.0;
      for (size_t j = 0; j < lim; ++j) l += std::exp(d.scale * dot(qi, k + d.kv.at(b, h, j), d.D) - m);
      for (size_t c = 0; c < d.D; ++c) acc[c] = 0.0;
      for (size_t j = 0; j < lim; ++j) {
        const double z = d.dropout > 0 ? attention_keep(d, b, h, i, j) : 1.0;
        if (z == 0) continue;
        const double p = std::exp(d.scale * dot(qi, k + d.kv.at(b, h, j), d.D) - m) / l * z;
        const float* vj = v + d.kv.at(b, h, j);
        for (size_t c = 0; c < d.D; ++c) acc[c] += p * vj[c];
      }
      for (size_t c = 0; c < d.D; ++c) oi[c] = lim ? static_cast<float>(acc[c]) : 0.0f;
      lse[bh * d.Tq + i] = lim ? static_cast<float>(m + std::log(l)) : -std::numeric_limits<float>::infinity();
    }
  }
}

// With P the probabilities and Z the dropout's keep/(1-p) factors: out = (P.Z) V, so
//   dV = (P.Z)^T dO,  dP = (dO V^T).Z,  dS = P.(dP - rowsum(dO.out)),  dQ = scale dS K,
//   dK = scale dS^T Q.
void attention_backward_f32(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                            const float* v, const float* out, const float* lse, const AttentionDims& d, size_t bh0,
                            size_t bh1) {
  double gq[kMaxHead];
  for (size_t bh = bh0; bh < bh1; ++bh) {
    const size_t b = bh / d.H, h = bh % d.H;
    for (size_t i = 0; i < d.Tq; ++i) {
      const size_t lim = attention_limit(d, b, i);
      if (lim == 0) continue;  // no visible key: the output was a constant 0
      const float *qi = q + d.q.at(b, h, i), *doi = dout + d.o.at(b, h, i);
      const double di = dot(doi, out + d.o.at(b, h, i), d.D);
      const double li = lse[bh * d.Tq + i];
      for (size_t c = 0; c < d.D; ++c) gq[c] = 0.0;
      for (size_t j = 0; j < lim; ++j) {
        const size_t o = d.kv.at(b, h, j);
        const double p = std::exp(d.scale * dot(qi, k + o, d.D) - li);
        const double z = d.dropout > 0 ? attention_keep(d, b, h, i, j) : 1.0;
        const double ds = p * (dot(doi, v + o, d.D) * z - di);
        for (size_t c = 0; c < d.D; ++c) {
          if (dv) dv[o + c] = static_cast<float>(dv[o + c] + p * z * doi[c]);
          if (dk) dk[o + c] = static_cast<float>(dk[o + c] + d.scale * ds * qi[c]);
          gq[c] += ds * k[o + c];
        }
      }
      if (dq) {
        float* dqi = dq + d.q.at(b, h, i);
        for (size_t c = 0; c < d.D; ++c) dqi[c] = static_cast<float>(dqi[c] + d.scale * gq[c]);
      }
    }
  }
}

void attention_softmax_block_f32(float* s, size_t ld, size_t rows, size_t cols, const uint32_t* lim, float* m,
                                 float* l, float* alpha) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = s + r * ld;
    const size_t n = lim[r] < cols ? lim[r] : cols;
    if (n == 0) {
      for (size_t j = 0; j < cols; ++j) row[j] = 0.0f;
      alpha[r] = 1.0f;
      continue;
    }
    float mx = m[r];
    for (size_t j = 0; j < n; ++j) mx = std::fmax(mx, row[j]);
    float sum = 0.0f;
    for (size_t j = 0; j < n; ++j) sum += (row[j] = std::exp(row[j] - mx));
    for (size_t j = n; j < cols; ++j) row[j] = 0.0f;
    alpha[r] = std::exp(m[r] - mx);
    l[r] = l[r] * alpha[r] + sum;
    m[r] = mx;
  }
}

void attention_probs_f32(float* s, size_t ld, size_t rows, size_t cols, const uint32_t* lim, const float* lse) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = s + r * ld;
    const size_t n = lim[r] < cols ? lim[r] : cols;
    for (size_t j = 0; j < cols; ++j) row[j] = j < n ? std::exp(row[j] - lse[r]) : 0.0f;
  }
}

void attention_dscores_f32(float* dp, const float* p, size_t ld, size_t rows, size_t cols, const float* di) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t j = 0; j < cols; ++j) dp[r * ld + j] = p[r * ld + j] * (dp[r * ld + j] - di[r]);
  }
}

}  // namespace kiln::ref
