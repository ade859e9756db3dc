// SIMD softmax, log-softmax and softmax cross-entropy over rows (the contract and the math:
// ref/softmax.cc): one pass for the maximum, one for sum exp(x - max) (vmath.h exp, float lanes,
// double across blocks), one to write.
// Written once over vmath.h's vocabulary (V, M, load/store with lane masks, exp, ...):
// avx2/softmax.cc and avx512/softmax.cc include their level's vmath.h, then this file inside
// their own namespace, so both levels compile the same code over 8 or 16 lanes.
// NOTE: include only from an ISA library's softmax.cc, after vmath.h.
#pragma once

void softmax_forward_f32(float* y, const float* x, size_t rows, size_t d) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    const V vm = set1(row_max(xr, d));
    // y = exp(x - max) first (in place is fine: each element is read before it is written)
    const double s = block_sum(d, [&](size_t i, M m) {
      const V e = keep(m, exp(sub(load(xr + i, m), vm)));
      store(yr + i, m, e);
      return e;
    });
    const V inv = set1(static_cast<float>(1.0 / s));
    each(d, [&](size_t i, M m) { store(yr + i, m, mul(load(yr + i, m), inv)); });
  }
}

void softmax_backward_f32(float* dx, const float* dy, const float* y, size_t rows, size_t d) {
  for (size_t r = 0; r < rows; ++r) {
    const size_t o = r * d;
    const V dot = set1(static_cast<float>(block_sum(d, [&](size_t i, M m) { return mul(load(dy + o + i, m), load(y + o + i, m)); })));
    each(d, [&](size_t i, M m) {
      const V t = mul(load(y + o + i, m), sub(load(dy + o + i, m), dot));
      store(dx + o + i, m, add(load(dx + o + i, m), t));
    });
  }
}

void log_softmax_forward_f32(float* y, const float* x, size_t rows, size_t d) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    const float mx = row_max(xr, d);
    const V vm = set1(mx);
    const double s = block_sum(d, [&](size_t i, M m) { return keep(m, exp(sub(load(xr + i, m), vm))); });
    const V ls = set1(static_cast<float>(std::log(s)));
    each(d, [&](size_t i, M m) { store(yr + i, m, sub(sub(load(xr + i, m), vm), ls)); });
  }
}

void log_softmax_backward_f32(float* dx, const float* dy, const float* y, size_t rows, size_t d) {
  for (size_t r = 0; r < rows; ++r) {
    const size_t o = r * d;
    const V sum = set1(static_cast<float>(block_sum(d, [&](size_t i, M m) { return load(dy + o + i, m); })));
    each(d, [&](size_t i, M m) {
      const V t = fnmadd(exp(load(y + o + i, m)), sum, load(dy + o + i, m));
      store(dx + o + i, m, add(load(dx + o + i, m), t));
    });
  }
}

void cross_entropy_forward_f32(float* lse, double* loss, const float* logits, const int32_t* targets,
                               const CrossEntropyDims& d, size_t rows) {
  const double eps = d.label_smoothing;
  for (size_t r = 0; r < rows; ++r) {
    lse[2 * r] = lse[2 * r + 1] = 0.0f;
    loss[r] = 0.0;
    if (targets[r] == d.ignore_index) continue;
    const float* z = logits + r * d.V;
    const float mx = row_max(z, d.V);
    const V vm = set1(mx);
    const double ls = std::log(block_sum(d.V, [&](size_t i, M m) { return keep(m, exp(sub(load(z + i, m), vm))); }));
    const double l = mx + ls;
    double smooth = 0.0;
    if (eps != 0.0) {
      const double sum = block_sum(d.V, [&](size_t i, M m) { return load(z + i, m); });
      smooth = eps * (l - sum / static_cast<double>(d.V));
    }
    lse[2 * r] = mx;
    lse[2 * r + 1] = static_cast<float>(ls);
    loss[r] = (1.0 - eps) * (l - z[targets[r]]) + smooth;
  }
}

void cross_entropy_backward_f32(float* dlogits, const float* logits, const int32_t* targets, const float* lse,
                                float scale, const CrossEntropyDims& d, size_t rows) {
  const double eps = d.label_smoothing;
  const V vscale = set1(scale), shift = set1(static_cast<float>(scale * eps / static_cast<double>(d.V)));
  for (size_t r = 0; r < rows; ++r) {
    const int32_t t = targets[r];
    if (t == d.ignore_index) continue;
    const float* z = logits + r * d.V;
    float* dz = dlogits + r * d.V;
    const V vm = set1(lse[2 * r]), ls = set1(lse[2 * r + 1]);
    // dz += scale * p - scale * eps / V, then the target's - scale * (1 - eps)
    each(d.V, [&](size_t i, M m) {
      const V p = exp(sub(sub(load(z + i, m), vm), ls));
      store(dz + i, m, add(load(dz + i, m), fmsub(vscale, p, shift)));
    });
    dz[t] -= static_cast<float>(scale * (1.0 - eps));
  }
}
