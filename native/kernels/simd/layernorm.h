// SIMD layer norm over rows (the contract and the math: ref/layernorm.cc). Row sums in float
// lanes, double across blocks (vmath.h block_sum): the mean about the row's first value, then the
// variance about the mean (as hi + lo floats).
// dgamma/dbeta: a chunk's rows (at most kLayerNormChunk) are added in float lanes per column,
// then into the double partials.
// Written once over vmath.h's vocabulary (V, M, load/store with lane masks, exp, ...):
// avx2/layernorm.cc and avx512/layernorm.cc include their level's vmath.h, then this file inside
// their own namespace, so both levels compile the same code over 8 or 16 lanes.
// NOTE: include only from an ISA library's layernorm.cc, after vmath.h.
#pragma once

void layer_norm_forward_f32(float* y, float* mean, float* rstd, const float* x, const float* gamma,
                            const float* beta, float eps, size_t rows, size_t d) {
  const double dd = static_cast<double>(d);
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    // the mean about a shift (the row's first value): x - shift is exact near it, so a row at
    // 1000 + 0.01 * noise sums its noise, not its offset's rounding
    const V shift = set1(xr[0]);
    const double mu = xr[0] + block_sum(d, [&](size_t i, M m) { return keep(m, sub(load(xr + i, m), shift)); }) / dd;
    // mean = hi + lo in two floats: x - hi is exact near the mean, so |mean| >> std keeps its spread
    const float hi = static_cast<float>(mu), lo = static_cast<float>(mu - hi);
    const V vh = set1(hi), vl = set1(lo);
    const double ss = block_sum(d, [&](size_t i, M m) {
      const V c = keep(m, sub(sub(load(xr + i, m), vh), vl));
      return mul(c, c);
    });
    const double is = 1.0 / std::sqrt(ss / dd + eps);
    mean[r] = hi;
    rstd[r] = static_cast<float>(is);
    const V vs = set1(static_cast<float>(is));
    each(d, [&](size_t i, M m) {
      const V xhat = mul(sub(sub(load(xr + i, m), vh), vl), vs);
      const V g = gamma ? load(gamma + i, m) : set1(1.0f), b = beta ? load(beta + i, m) : zero();
      store(yr + i, m, fmadd(xhat, g, b));
    });
  }
}

void layer_norm_backward_f32(float* dx, double* dgamma, double* dbeta, const float* dy, const float* x,
                             const float* gamma, const float* mean, const float* rstd, size_t rows, size_t d) {
  const float inv_d = static_cast<float>(1.0 / static_cast<double>(d));
  if (dx) {
    for (size_t r = 0; r < rows; ++r) {
      const float *xr = x + r * d, *dyr = dy + r * d;
      float* dxr = dx + r * d;
      const V vm = set1(mean[r]), vs = set1(rstd[r]);
      auto g_at = [&](size_t i, M m) { return gamma ? mul(load(dyr + i, m), load(gamma + i, m)) : load(dyr + i, m); };
      const double sum_g = block_sum(d, [&](size_t i, M m) { return g_at(i, m); });
      const double sum_gx = block_sum(d, [&](size_t i, M m) {
        return mul(g_at(i, m), keep(m, mul(sub(load(xr + i, m), vm), vs)));
      });
      // dx += rstd * g - rstd * mean(g) - xhat * rstd * mean(g * xhat)
      const V c1 = set1(static_cast<float>(rstd[r] * sum_g) * inv_d);
      const V c2 = set1(static_cast<float>(rstd[r] * sum_gx) * inv_d);
      each(d, [&](size_t i, M m) {
        const V xhat = mul(sub(load(xr + i, m), vm), vs);
        const V t = fnmadd(xhat, c2, fmsub(vs, g_at(i, m), c1));
        store(dxr + i, m, add(load(dxr + i, m), t));
      });
    }
  }
  if (!dgamma && !dbeta) return;
  each(d, [&](size_t j, M m) {
    V sg = zero(), sb = zero();
    for (size_t r = 0; r < rows; ++r) {
      const V g = load(dy + r * d + j, m);
      sb = add(sb, g);
      sg = fmadd(g, mul(sub(load(x + r * d + j, m), set1(mean[r])), set1(rstd[r])), sg);
    }
    alignas(64) float tg[kLanes], tb[kLanes];
    store(tg, full_mask(), sg);
    store(tb, full_mask(), sb);
    const size_t lanes = d - j < kLanes ? d - j : kLanes;
    for (size_t l = 0; l < lanes; ++l) {
      if (dgamma) dgamma[j + l] += tg[l];
      if (dbeta) dbeta[j + l] += tb[l];
    }
  });
}
