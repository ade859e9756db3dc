// Tiled attention. The scores of a block of kBq queries against kBk keys live in one small
// buffer; every product is a loop of GEMM register tiles over operands read in place (Q, V, dO,
// K rows) or packed once per key block (K^T and V^T as B panels; P^T and dS^T as A panels).
//
// Forward, one task per (b, h, query block): for each visible key block, S = scale Q K^T, the
// online softmax rescales the running output rows and P V is added to them; finally each row
// is divided by its normaliser and lse = m + log l is saved.
//
// Backward (FlashAttention-2's loop), per (b, h): for each key block j, for each query block i
// that sees it: P = exp(S - lse), dP = dO V^T, dS = P (dP - rowsum(dO out)), and
//   dV_j += P^T dO_i,  dK_j += scale dS^T Q_i,  dQ_i += scale dS K_j.
// With fewer (b, h) pairs than twice the threads, the same loop runs as two passes, one task per
// key block (dK, dV) and one per query block (dQ), recomputing P and dS. Every gradient block
// gets its contributions in the same order either way, so the choice (which depends on the
// thread count) never changes a bit of the result.
//
// With `overwrite` the gradient buffers hold garbage (fresh buffers nobody zeroed): each task
// zeroes the gradient rows it alone adds into just before its first contribution (while they are
// about to be read anyway), so the results are the bits of adding into zeros.
#include "attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "parallel.h"

namespace kiln {
namespace {

constexpr size_t kBq = 48;   // queries per block: a multiple of every tile's MR (12, 6)
constexpr size_t kBk = 128;  // keys per block: a multiple of every tile's NR (32, 16)
// Workspace slots (gemm < 1100, conv from 1032, winograd from 8192).
constexpr size_t kSlot = 16384;

size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

// C(rows, cols) = alpha A(rows, k) B(k, cols) + beta C, a loop of register tiles. A is read in
// place (row stride lda) or, when lda == 0, from packed slivers; B likewise with ldb == 0.
void tiles(const GemmKernel& g, float* c, size_t ldc, const float* a, size_t lda, const float* b, size_t ldb,
           size_t rows, size_t cols, size_t k, float alpha, float beta) {
  const size_t MR = g.shape.mr, NR = g.shape.nr;
  for (size_t i0 = 0; i0 < rows; i0 += MR) {
    for (size_t j0 = 0; j0 < cols; j0 += NR) {
      GemmTile t{};
      t.k = k;
      t.a = lda ? a + i0 * lda : a + i0 * k;  // sliver i0/MR of k*MR floats
      t.a_rs = lda;
      t.b = ldb ? b + j0 : b + j0 * k;  // sliver j0/NR of k*NR floats
      t.b_rs = ldb ? ldb : NR;
      t.c = c + i0 * ldc + j0;
      t.ldc = ldc;
      t.mr = std::min(MR, rows - i0);
      t.nr = std::min(NR, cols - j0);
      t.alpha = alpha;
      t.beta = beta;
      t.last = true;
      g.tile(t);
    }
  }
}

// Per-thread scratch, carved out of one workspace buffer.
struct Scratch {
  float *s, *dp, *pd, *kp, *vp, *ap;
  static size_t floats(const AttentionDims& d, const GemmKernel& g) {
    const size_t panel = round_up(kBk, g.shape.nr) * d.D;
    return 3 * kBq * kBk + 2 * panel + round_up(kBk, g.shape.mr) * kBq + 64;
  }
  Scratch(float* base, const AttentionDims& d, const GemmKernel& g) {
    const size_t panel = round_up(kBk, g.shape.nr) * d.D;
    s = base;
    dp = s + kBq * kBk;
    pd = dp + kBq * kBk;
    kp = pd + kBq * kBk;
    vp = kp + panel;
    ap = vp + panel;
  }
};

// Runs task(t, scratch) for t in [0, tasks) over the pool; tasks are claimed one at a time so
// that uneven ones (causal blocks) balance. Each task's result depends on t only.
template <typename Task>
bool run_tasks(ThreadPool& pool, Workspace& ws, const AttentionDims& d, const GemmKernel& g, size_t tasks,
               Task task) {
  const size_t workers = std::min<size_t>(static_cast<size_t>(pool.size()), tasks);
  float* bufs[ThreadPool::kMaxThreads];
  for (size_t w = 0; w < workers; ++w) {
    if (!(bufs[w] = ws.floats(kSlot + w, Scratch::floats(d, g)))) return false;
  }
  std::atomic<size_t> next{0};
  pool.run(workers, [&](size_t w) {
    Scratch sc(bufs[w], d, g);
    for (size_t t; (t = next.fetch_add(1)) < tasks;) task(t, sc);
  });
  return true;
}

// The rows of one query block: their visible-key limits and the largest of them.
struct QueryBlock {
  size_t b, h, bh, i0, rows;
  uint32_t lim[kBq];
  size_t max_lim = 0;
  QueryBlock(const AttentionDims& d, size_t bh_, size_t qb) : b(bh_ / d.H), h(bh_ % d.H), bh(bh_), i0(qb * kBq) {
    rows = std::min(kBq, d.Tq - i0);
    for (size_t r = 0; r < rows; ++r) {
      lim[r] = static_cast<uint32_t>(attention_limit(d, b, i0 + r));
      max_lim = std::max<size_t>(max_lim, lim[r]);
    }
  }
  // The limits relative to a key block starting at j0.
  void limits_from(size_t j0, uint32_t* out) const {
    for (size_t r = 0; r < rows; ++r) out[r] = lim[r] > j0 ? static_cast<uint32_t>(lim[r] - j0) : 0;
  }
};

// Multiplies the kept probabilities by 1/(1-p) and the dropped ones by 0, in place: each row's
// run of keys is a run of consecutive mask counters for the dropout kernel.
void apply_dropout(const AttentionKernels& k, const AttentionDims& d, const QueryBlock& qb, size_t j0, float* s,
                   size_t cols) {
  for (size_t r = 0; r < qb.rows; ++r) {
    k.dropout(s + r * kBk, s + r * kBk, d.drop, attention_index(d, qb.b, qb.h, qb.i0 + r, j0), cols);
  }
}

// dout . out of one query row in double. The float products are exact in double, so only the
// sums round: eight independent sums (then added in a fixed tree) instead of one chain whose
// add latency, one element at a time, made this loop a tenth of the backward's time.
float row_dot(const float* a, const float* o, size_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t c = 0;
  for (; c + 8 <= n; c += 8) {
    for (size_t u = 0; u < 8; ++u) acc[u] += static_cast<double>(a[c + u]) * o[c + u];
  }
  double s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; c < n; ++c) s += static_cast<double>(a[c]) * o[c];
  return static_cast<float>(s);
}

// Zeroes rows [t0, t1) of (b, h) of a gradient (D floats each at the strides `s`); g may be null.
void zero_rows(float* g, const AttentionStrides& s, size_t D, size_t b, size_t h, size_t t0, size_t t1) {
  if (!g) return;
  for (size_t t = t0; t < t1; ++t) std::memset(g + s.at(b, h, t), 0, D * sizeof(float));
}

}  // namespace

bool attention_forward(ThreadPool& pool, Workspace& ws, const AttentionKernels& k, float* out, float* lse,
                       const float* q, const float* key, const float* v, const AttentionDims& d) {
  const size_t pairs = d.B * d.H;
  if (!k.gemm.tile) {
    parallel_range(pool, pairs, 1, 1, [&](size_t b0, size_t b1) { ref::attention_forward_f32(out, lse, q, key, v, d, b0, b1); });
    return true;
  }
  const size_t qblocks = (d.Tq + kBq - 1) / kBq;
  const GemmKernel& g = k.gemm;
  return run_tasks(pool, ws, d, g, pairs * qblocks, [&](size_t t, Scratch& sc) {
    const QueryBlock qb(d, t / qblocks, t % qblocks);
    float m[kBq], l[kBq], alpha[kBq];
    uint32_t lim[kBq];
    const float* qi = q + d.q.at(qb.b, qb.h, qb.i0);
    float* oi = out + d.o.at(qb.b, qb.h, qb.i0);
    for (size_t r = 0; r < qb.rows; ++r) {
      std::fill(oi + r * d.o.st, oi + r * d.o.st + d.D, 0.0f);
      m[r] = -std::numeric_limits<float>::infinity();
      l[r] = 0.0f;
    }
    for (size_t j0 = 0; j0 < qb.max_lim; j0 += kBk) {
      const size_t cols = std::min(kBk, qb.max_lim - j0);
      g.pack_b(sc.kp, key + d.kv.at(qb.b, qb.h, j0), d.kv.st, true, cols, d.D, d.D);
      tiles(g, sc.s, kBk, qi, d.q.st, sc.kp, 0, qb.rows, cols, d.D, d.scale, 0.0f);
      qb.limits_from(j0, lim);
      k.softmax_block(sc.s, kBk, qb.rows, cols, lim, m, l, alpha);
      if (j0 > 0) {
        for (size_t r = 0; r < qb.rows; ++r) {
          if (alpha[r] != 1.0f) {
            float* row = oi + r * d.o.st;
            for (size_t c = 0; c < d.D; ++c) row[c] *= alpha[r];
          }
        }
      }
      if (d.dropout > 0) apply_dropout(k, d, qb, j0, sc.s, cols);
      tiles(g, oi, d.o.st, sc.s, kBk, v + d.kv.at(qb.b, qb.h, j0), d.kv.st, qb.rows, d.D, cols, 1.0f, 1.0f);
    }
    for (size_t r = 0; r < qb.rows; ++r) {
      float* row = oi + r * d.o.st;
      const bool seen = qb.lim[r] > 0;
      const float inv = seen ? 1.0f / l[r] : 0.0f;
      for (size_t c = 0; c < d.D; ++c) row[c] = seen ? row[c] * inv : 0.0f;
      lse[qb.bh * d.Tq + qb.i0 + r] = seen ? m[r] + std::log(l[r]) : -std::numeric_limits<float>::infinity();
    }
  });
}

namespace {

// The backward loop's pieces over one call's operands.
struct Backward {
  const AttentionKernels& k;
  const AttentionDims& d;
  float *dq, *dk, *dv;
  const float *dout, *q, *key, *v, *out, *lse;

  size_t cols_at(size_t j0) const { return std::min(kBk, d.Tk - j0); }

  // K^T and V^T of the key block at j0 as B panels.
  void pack(Scratch& sc, size_t b, size_t h, size_t j0) const {
    const size_t cols = cols_at(j0);
    k.gemm.pack_b(sc.kp, key + d.kv.at(b, h, j0), d.kv.st, true, cols, d.D, d.D);
    k.gemm.pack_b(sc.vp, v + d.kv.at(b, h, j0), d.kv.st, true, cols, d.D, d.D);
  }

  // One (query block, key block) step; sc.kp/sc.vp hold the key block (pack()).
  void block(Scratch& sc, const QueryBlock& qb, size_t j0, bool want_dq, bool want_dkv) const {
    const GemmKernel& g = k.gemm;
    const size_t rows = qb.rows, cols = cols_at(j0);
    const size_t qo = d.q.at(qb.b, qb.h, qb.i0), oo = d.o.at(qb.b, qb.h, qb.i0), ko = d.kv.at(qb.b, qb.h, j0);
    uint32_t lim[kBq];
    qb.limits_from(j0, lim);
    tiles(g, sc.s, kBk, q + qo, d.q.st, sc.kp, 0, rows, cols, d.D, d.scale, 0.0f);
    k.probs(sc.s, kBk, rows, cols, lim, lse + qb.bh * d.Tq + qb.i0);
    const float* kept = sc.s;  // the probabilities after dropout: what multiplied V
    if (d.dropout > 0) {
      for (size_t r = 0; r < rows; ++r) std::copy(sc.s + r * kBk, sc.s + r * kBk + cols, sc.pd + r * kBk);
      apply_dropout(k, d, qb, j0, sc.pd, cols);
      kept = sc.pd;
    }
    const bool need_ds = (want_dq && dq) || (want_dkv && dk);
    if (need_ds) {
      tiles(g, sc.dp, kBk, dout + oo, d.o.st, sc.vp, 0, rows, cols, d.D, 1.0f, 0.0f);
      if (d.dropout > 0) apply_dropout(k, d, qb, j0, sc.dp, cols);
      float di[kBq];
      for (size_t r = 0; r < rows; ++r) di[r] = row_dot(dout + oo + r * d.o.st, out + oo + r * d.o.st, d.D);
      k.dscores(sc.dp, sc.s, kBk, rows, cols, di);
    }
    if (want_dkv && dv) {
      g.pack_a(sc.ap, kept, kBk, true, cols, rows);
      tiles(g, dv + ko, d.kv.st, sc.ap, 0, dout + oo, d.o.st, cols, d.D, rows, 1.0f, 1.0f);
    }
    if (want_dkv && dk) {
      g.pack_a(sc.ap, sc.dp, kBk, true, cols, rows);
      tiles(g, dk + ko, d.kv.st, sc.ap, 0, q + qo, d.q.st, cols, d.D, rows, d.scale, 1.0f);
    }
    if (want_dq && dq) tiles(g, dq + qo, d.q.st, sc.dp, kBk, key + ko, d.kv.st, rows, d.D, cols, d.scale, 1.0f);
  }
};

}  // namespace

bool attention_backward(ThreadPool& pool, Workspace& ws, const AttentionKernels& k, float* dq, float* dk, float* dv,
                        const float* dout, const float* q, const float* key, const float* v, const float* out,
                        const float* lse, const AttentionDims& d, bool overwrite) {
  const size_t pairs = d.B * d.H;
  if (!k.gemm.tile) {
    parallel_range(pool, pairs, 1, 1, [&](size_t b0, size_t b1) {
      for (size_t bh = b0; overwrite && bh < b1; ++bh) {  // the reference only adds
        zero_rows(dq, d.q, d.D, bh / d.H, bh % d.H, 0, d.Tq);
        zero_rows(dk, d.kv, d.D, bh / d.H, bh % d.H, 0, d.Tk);
        zero_rows(dv, d.kv, d.D, bh / d.H, bh % d.H, 0, d.Tk);
      }
      ref::attention_backward_f32(dq, dk, dv, dout, q, key, v, out, lse, d, b0, b1);
    });
    return true;
  }
  const Backward bw{k, d, dq, dk, dv, dout, q, key, v, out, lse};
  const size_t qblocks = (d.Tq + kBq - 1) / kBq, kblocks = (d.Tk + kBk - 1) / kBk;
  const GemmKernel& g = k.gemm;
  const size_t threads = static_cast<size_t>(pool.size());
  if (threads == 1 || pairs >= 2 * threads) {
    return run_tasks(pool, ws, d, g, pairs, [&](size_t bh, Scratch& sc) {
      if (overwrite) {
        const size_t b = bh / d.H, h = bh % d.H;
        zero_rows(dq, d.q, d.D, b, h, 0, d.Tq);
        zero_rows(dk, d.kv, d.D, b, h, 0, d.Tk);
        zero_rows(dv, d.kv, d.D, b, h, 0, d.Tk);
      }
      for (size_t jb = 0; jb < kblocks; ++jb) {
        const size_t j0 = jb * kBk;
        bool packed = false;
        for (size_t ib = 0; ib < qblocks; ++ib) {
          const QueryBlock qb(d, bh, ib);
          if (qb.max_lim <= j0) continue;
          if (!packed) bw.pack(sc, qb.b, qb.h, j0), packed = true;
          bw.block(sc, qb, j0, true, true);
        }
      }
    });
  }
  // Two passes: dK and dV per key block, then dQ per query block.
  const bool kv_ok = (!dk && !dv) || run_tasks(pool, ws, d, g, pairs * kblocks, [&](size_t t, Scratch& sc) {
    const size_t bh = t / kblocks, j0 = (t % kblocks) * kBk;
    if (overwrite) {
      zero_rows(dk, d.kv, d.D, bh / d.H, bh % d.H, j0, j0 + bw.cols_at(j0));
      zero_rows(dv, d.kv, d.D, bh / d.H, bh % d.H, j0, j0 + bw.cols_at(j0));
    }
    bool packed = false;
    for (size_t ib = 0; ib < qblocks; ++ib) {
      const QueryBlock qb(d, bh, ib);
      if (qb.max_lim <= j0) continue;
      if (!packed) bw.pack(sc, qb.b, qb.h, j0), packed = true;
      bw.block(sc, qb, j0, false, true);
    }
  });
  if (!kv_ok) return false;
  return !dq || run_tasks(pool, ws, d, g, pairs * qblocks, [&](size_t t, Scratch& sc) {
    const QueryBlock qb(d, t / qblocks, t % qblocks);
    if (overwrite) zero_rows(dq, d.q, d.D, qb.b, qb.h, qb.i0, qb.i0 + qb.rows);
    for (size_t j0 = 0; j0 < qb.max_lim; j0 += kBk) {
      bw.pack(sc, qb.b, qb.h, j0);
      bw.block(sc, qb, j0, true, false);
    }
  });
}

}  // namespace kiln
