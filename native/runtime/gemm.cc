// The blocked GEMM (BLIS loop order). For each block of NC columns (jc) and KC of the inner
// dimension (pc): op(B)[pc, jc] is packed into NR-wide slivers (KC x NR each: one sliver stays in
// L1 while it is used); each thread packs MC rows of op(A) into MR-tall slivers (an MC x KC block
// that stays in L2) and runs the register tile over every (MR-sliver, NR-sliver) pair, B sliver
// outer so that it is reused from L1 across all A slivers.
//
// Determinism: every element of C is computed by one tile with the same K blocks in the same
// order, whatever the thread count; threads only decide which tiles they run.
#include "gemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace kiln {
namespace {

// Cache blocking for Zen 5 (48 KiB L1d, 1 MiB L2 per core, 32 MiB L3): a 256 x 32 B sliver is
// 32 KiB (L1), a 144 x 256 A block 144 KiB (L2), a 256 x 3072 B panel 3 MiB (L3).
constexpr size_t kKC = 256;
constexpr size_t kMC = 144;  // a multiple of every MR (12 and 6)
constexpr size_t kNC = 3072;
// Below this many rows, B is read in place (when not transposed) instead of packed: packing
// costs a pass over B that only a few A slivers would amortize.
constexpr size_t kDirectBRows = 48;

size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

// out[s][k][r] = op(A)[i0 + s*MR + r, p0 + k] for the mc rows and kc columns, zero past mc.
void pack_a(float* out, const float* a, const GemmDims& d, size_t i0, size_t mc, size_t p0, size_t kc, size_t MR) {
  for (size_t s = 0; s * MR < mc; ++s) {
    size_t rows = std::min(MR, mc - s * MR);
    float* o = out + s * MR * kc;
    for (size_t k = 0; k < kc; ++k, o += MR) {
      if (d.trans_a) {  // A is (K, lda): row p0+k holds op(A)[:, p0+k], contiguous in i
        std::memcpy(o, a + (p0 + k) * d.lda + i0 + s * MR, rows * sizeof(float));
      } else {
        const float* src = a + (i0 + s * MR) * d.lda + p0 + k;
        for (size_t r = 0; r < rows; ++r) o[r] = src[r * d.lda];
      }
      for (size_t r = rows; r < MR; ++r) o[r] = 0.0f;
    }
  }
}

// Sliver s of out: out[s][k][j] = op(B)[p0 + k, j0 + s*NR + j] for slivers [s0, s1), zero past nc.
void pack_b(float* out, const float* b, const GemmDims& d, size_t p0, size_t kc, size_t j0, size_t nc, size_t NR,
            size_t s0, size_t s1) {
  for (size_t s = s0; s < s1; ++s) {
    size_t cols = std::min(NR, nc - s * NR);
    float* o = out + s * NR * kc;
    for (size_t k = 0; k < kc; ++k, o += NR) {
      if (!d.trans_b) {  // B is (K, ldb): row p0+k is contiguous in j
        std::memcpy(o, b + (p0 + k) * d.ldb + j0 + s * NR, cols * sizeof(float));
      } else {
        const float* src = b + (j0 + s * NR) * d.ldb + p0 + k;
        for (size_t j = 0; j < cols; ++j) o[j] = src[j * d.ldb];
      }
      for (size_t j = cols; j < NR; ++j) o[j] = 0.0f;
    }
  }
}

// How one GEMM is cut into blocks, and the scratch it needs per worker.
struct Plan {
  size_t MR, NR, kc_max, nc_max;
  bool direct_b;  // read op(B) in place instead of packing it
  size_t a_floats() const { return kMC * kc_max; }
  size_t b_floats() const { return direct_b ? 0 : kc_max * ceil_div(nc_max, NR) * NR; }
};

Plan make_plan(const GemmKernel& kern, const GemmDims& d) {
  Plan p;
  p.MR = kern.shape.mr;
  p.NR = kern.shape.nr;
  p.kc_max = std::max<size_t>(1, std::min(kKC, d.K));
  p.nc_max = std::min(kNC, d.N);
  p.direct_b = !d.trans_b && d.M <= kDirectBRows;
  return p;
}

// Runs tiles for rows [m0, m1) of C and B slivers [s0, s1) of the current (jc, pc) block.
void compute_block(const GemmKernel& kern, const Plan& plan, float* apack, const float* bpack, float* c, const float* a,
                   const float* b, const GemmDims& d, size_t jc, size_t nc, size_t pc, size_t kc, size_t m0, size_t m1,
                   size_t s0, size_t s1) {
  const size_t MR = plan.MR, NR = plan.NR;
  const bool first = pc == 0, last = pc + kc >= d.K;
  for (size_t ic = m0; ic < m1; ic += kMC) {
    size_t mc = std::min(kMC, m1 - ic);
    pack_a(apack, a, d, ic, mc, pc, kc, MR);
    for (size_t s = s0; s < s1; ++s) {
      size_t j = jc + s * NR;
      GemmTile t;
      t.k = kc;
      t.b = plan.direct_b ? b + pc * d.ldb + j : bpack + s * NR * kc;
      t.b_rs = plan.direct_b ? d.ldb : NR;
      t.nr = std::min(NR, jc + nc - j);
      t.ldc = d.ldc;
      t.alpha = d.alpha;
      t.beta = first ? d.beta : 1.0f;  // later K blocks add to what the first one stored
      t.last = last;
      t.bias_col = d.epilogue.bias_col ? d.epilogue.bias_col + j : nullptr;
      t.act = d.epilogue.act;
      for (size_t ir = 0; ir < mc; ir += MR) {
        t.a = apack + ir * kc;
        t.mr = std::min(MR, mc - ir);
        t.c = c + (ic + ir) * d.ldc + j;
        t.bias_row = d.epilogue.bias_row ? d.epilogue.bias_row + ic + ir : nullptr;
        kern.tile(t);
      }
    }
  }
}

// One GEMM over `tasks` workers. run(n, fn) runs fn(0..n-1), on the pool or inline. `ws_a` are
// the per-task A buffers, `ws_b` the shared B panel.
template <typename Run>
void gemm_blocked(Run run, size_t tasks, const GemmKernel& kern, const Plan& plan, float* const* ws_a, float* ws_b,
                  float* c, const float* a, const float* b, const GemmDims& d) {
  const size_t MR = plan.MR, NR = plan.NR;
  const size_t m_slivers = ceil_div(d.M, MR);
  const size_t k_blocks = std::max<size_t>(1, ceil_div(d.K, kKC));  // K == 0 still applies beta, bias, act
  for (size_t jc = 0; jc < d.N; jc += kNC) {
    const size_t nc = std::min(kNC, d.N - jc);
    const size_t n_slivers = ceil_div(nc, NR);
    // Split rows when there are enough A slivers to go round, columns otherwise (skinny M).
    const bool split_m = m_slivers >= 2 * tasks || m_slivers >= n_slivers;
    for (size_t kb = 0; kb < k_blocks; ++kb) {
      const size_t pc = kb * kKC, kc = std::min(kKC, d.K - std::min(d.K, pc));
      if (!plan.direct_b) {
        run(tasks, [&](size_t t) {
          size_t per = ceil_div(n_slivers, tasks);
          pack_b(ws_b, b, d, pc, kc, jc, nc, NR, std::min(n_slivers, t * per), std::min(n_slivers, (t + 1) * per));
        });
      }
      run(tasks, [&](size_t t) {
        if (split_m) {
          size_t per = ceil_div(m_slivers, tasks);
          size_t m0 = std::min(d.M, t * per * MR), m1 = std::min(d.M, (t + 1) * per * MR);
          if (m0 < m1) compute_block(kern, plan, ws_a[t], ws_b, c, a, b, d, jc, nc, pc, kc, m0, m1, 0, n_slivers);
        } else {
          size_t per = ceil_div(n_slivers, tasks);
          size_t s0 = std::min(n_slivers, t * per), s1 = std::min(n_slivers, (t + 1) * per);
          if (s0 < s1) compute_block(kern, plan, ws_a[t], ws_b, c, a, b, d, jc, nc, pc, kc, 0, d.M, s0, s1);
        }
      });
    }
  }
}

struct Inline {
  template <typename Fn>
  void operator()(size_t n, Fn fn) const {
    for (size_t i = 0; i < n; ++i) fn(i);
  }
};

}  // namespace

bool gemm(ThreadPool& pool, Workspace& ws, const GemmKernel& kern, float* c, const float* a, const float* b,
          const GemmDims& d, const GemmBatch& batch) {
  if (d.M == 0 || d.N == 0 || batch.count == 0) return true;
  const size_t threads = static_cast<size_t>(pool.size());

  if (!kern.tile) {  // reference: rows split over the pool (each row is independent)
    for (size_t e = 0; e < batch.count; ++e) {
      float* ce = c + e * batch.stride_c;
      const float *ae = a + e * batch.stride_a, *be = b + e * batch.stride_b;
      size_t per = ceil_div(d.M, std::min(threads, d.M));
      pool.run(ceil_div(d.M, per), [&](size_t t) { ref::gemm_f32(ce, ae, be, d, t * per, std::min(d.M, (t + 1) * per)); });
    }
    return true;
  }

  const Plan plan = make_plan(kern, d);
  // Many small problems: one whole GEMM per task, each with its own scratch. Otherwise the
  // threads share each GEMM.
  const bool per_problem = batch.count >= threads && threads > 1;
  std::vector<float*> apacks(threads), bpacks(per_problem ? threads : 1);
  for (size_t t = 0; t < threads; ++t) {
    if (!(apacks[t] = ws.floats(2 * t, plan.a_floats()))) return false;
  }
  for (size_t t = 0; t < bpacks.size(); ++t) {
    bpacks[t] = plan.b_floats() ? ws.floats(2 * t + 1, plan.b_floats()) : nullptr;
    if (plan.b_floats() && !bpacks[t]) return false;
  }

  if (per_problem) {
    size_t per = ceil_div(batch.count, threads);
    pool.run(threads, [&](size_t t) {
      for (size_t e = t * per; e < std::min(batch.count, (t + 1) * per); ++e) {
        gemm_blocked(Inline{}, 1, kern, plan, &apacks[t], bpacks[t], c + e * batch.stride_c, a + e * batch.stride_a,
                     b + e * batch.stride_b, d);
      }
    });
  } else {
    auto on_pool = [&](size_t n, const auto& fn) { pool.run(n, fn); };
    for (size_t e = 0; e < batch.count; ++e) {
      gemm_blocked(on_pool, threads, kern, plan, apacks.data(), bpacks[0], c + e * batch.stride_c,
                   a + e * batch.stride_a, b + e * batch.stride_b, d);
    }
  }
  return true;
}

}  // namespace kiln
