// SIMD GELU (erf and tanh forms) and dropout (the contract and the math: ref/activation.cc).
//
// Phi(x) = erfc(-x / sqrt 2) / 2 with erfc(z) for z = |x|/sqrt 2 >= 0 from Numerical Recipes'
// erfcc (a Chebyshev fit: fractional error below 1.2e-7 for every z, so GELU keeps its relative
// accuracy deep into the negative tail), and Phi(x) = 1 - erfc(z)/2 for x >= 0. z^2 is split into
// hi + lo (an FMA) so the exponent keeps its digits for large z.
// Written once over vmath.h's vocabulary (V, M, load/store with lane masks, exp, ...):
// avx2/activation.cc and avx512/activation.cc include their level's vmath.h, then this file inside
// their own namespace, so both levels compile the same code over 8 or 16 lanes.
// NOTE: include only from an ISA library's activation.cc, after vmath.h.
#pragma once

namespace {

// Phi(x); e2 = exp(-x^2/2) (for the derivative) when wanted
V phi_cdf(V x, V* e2 = nullptr) {
  // |x|/sqrt 2, clamped at 20 where erfc is 0 in float (z^2 = inf would make its low part NaN)
  const V z = min(set1(20.0f), mul(abs(x), set1(0.70710678118654752f)));
  const V t = div(set1(1.0f), fmadd(set1(0.5f), z, set1(1.0f)));
  V p = set1(0.17087277f);
  p = fmadd(p, t, set1(-0.82215223f));
  p = fmadd(p, t, set1(1.48851587f));
  p = fmadd(p, t, set1(-1.13520398f));
  p = fmadd(p, t, set1(0.27886807f));
  p = fmadd(p, t, set1(-0.18628806f));
  p = fmadd(p, t, set1(0.09678418f));
  p = fmadd(p, t, set1(0.37409196f));
  p = fmadd(p, t, set1(1.00002368f));
  p = fmadd(p, t, set1(-1.26551223f));
  const V hi = mul(z, z), lo = fmsub(z, z, hi);  // z^2 = hi + lo exactly
  const V e = exp(sub(set1(0.0f), hi));
  const V corr = sub(set1(1.0f), lo);  // exp(-lo) to first order; |lo| <= ulp(hi)/2
  if (e2) *e2 = mul(e, corr);
  const V erfc = mul(mul(t, exp(sub(p, hi))), corr);
  const V half = mul(erfc, set1(0.5f));
  return select_neg(x, half, sub(set1(1.0f), half));
}

constexpr float kSqrt2OverPi = 0.79788456080286535588f;
constexpr float kTanhCubic = 0.044715f;

// s = sigmoid(2u) and 1 - s without cancellation or inf * 0: e = exp(-2u), 1 - s = e s when s > 1/2
void tanh_gate(V x, V* s, V* one_minus_s) {
  const V u = mul(mul(x, set1(kSqrt2OverPi)), fmadd(mul(x, x), set1(kTanhCubic), set1(1.0f)));
  const V e = exp(mul(u, set1(-2.0f)));
  *s = div(set1(1.0f), add(set1(1.0f), e));
  if (one_minus_s) *one_minus_s = select_gt_half(*s, mul(e, *s), sub(set1(1.0f), *s));
}

// op(i, m) over [0, n) in runs that share the high 32 bits of the element index (the block key)
template <typename Fn>
void dropout_runs(const DropoutDims& d, uint64_t start, size_t n, Fn fn) {
  size_t i = 0;
  while (i < n) {
    const uint64_t g = start + i;
    const uint64_t block_end = (g | 0xFFFFFFFFull) + 1;  // the next multiple of 2^32
    const size_t len = static_cast<size_t>(block_end - g < n - i ? block_end - g : n - i);
    // the key of ref::dropout_hash for this block: dropout_hash(seed, g) = mix(mix(lo ^ key) + key)
    const uint32_t key = [&] {
      const uint32_t s0 = static_cast<uint32_t>(d.seed), s1 = static_cast<uint32_t>(d.seed >> 32);
      auto m = [](uint32_t v) {
        v ^= v >> 16;
        v *= 0x7feb352dU;
        v ^= v >> 15;
        v *= 0x846ca68bU;
        return v ^ (v >> 16);
      };
      return m(s0 ^ m(s1 ^ m(static_cast<uint32_t>(g >> 32) + 0x9e3779b9U)));
    }();
    const uint32_t lo = static_cast<uint32_t>(g);
    each(len, [&](size_t k, M m) {
      const auto h = mix32(add_i(mix32(xor_i(counters(lo + static_cast<uint32_t>(k)), key)), key));
      fn(i + k, m, keep_multiplier(h, d.threshold, d.scale));
    });
    i += len;
  }
}

}  // namespace

void gelu_forward_f32(float* y, const float* x, size_t n) {
  each(n, [&](size_t i, M m) {
    const V v = load(x + i, m);
    store(y + i, m, mul(v, phi_cdf(v)));
  });
}

void gelu_backward_f32(float* dx, const float* dy, const float* x, size_t n) {
  each(n, [&](size_t i, M m) {
    const V v = load(x + i, m);
    V e2;
    const V cdf = phi_cdf(v, &e2);
    const V grad = fmadd(mul(v, set1(0.39894228040143268f)), e2, cdf);  // Phi + x phi
    store(dx + i, m, fmadd(load(dy + i, m), grad, load(dx + i, m)));
  });
}

void gelu_tanh_forward_f32(float* y, const float* x, size_t n) {
  each(n, [&](size_t i, M m) {
    const V v = load(x + i, m);
    V s;
    tanh_gate(v, &s, nullptr);
    store(y + i, m, mul(v, s));
  });
}

void gelu_tanh_backward_f32(float* dx, const float* dy, const float* x, size_t n) {
  each(n, [&](size_t i, M m) {
    const V v = load(x + i, m);
    V s, oms;
    tanh_gate(v, &s, &oms);
    // 2u'(x) from x clamped to +-1e4: x^2 would overflow for |x| > 1.8e19 and make 0 * inf
    // (s (1 - s) is 0 out there anyway)
    const V vc = max(set1(-1e4f), min(set1(1e4f), v));
    const V du2 = mul(set1(2.0f * kSqrt2OverPi), fmadd(mul(vc, vc), set1(3.0f * kTanhCubic), set1(1.0f)));
    const V grad = fmadd(mul(mul(v, s), oms), du2, s);  // s + x s (1 - s) 2u'
    store(dx + i, m, fmadd(load(dy + i, m), grad, load(dx + i, m)));
  });
}

void dropout_forward_f32(float* y, const float* x, const DropoutDims& d, uint64_t start, size_t n) {
  dropout_runs(d, start, n, [&](size_t i, M m, V mult) { store(y + i, m, mul(load(x + i, m), mult)); });
}

void dropout_backward_f32(float* dx, const float* dy, const DropoutDims& d, uint64_t start, size_t n) {
  dropout_runs(d, start, n, [&](size_t i, M m, V mult) {
    store(dx + i, m, fmadd(load(dy + i, m), mult, load(dx + i, m)));  // one rounding, as ref's fma
  });
}
