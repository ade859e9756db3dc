// The row pieces of the tiled attention (declared in attention.h), written once over the vector
// vocabulary of vmath.h (load/store with lane masks, exp, hmax, hsum): avx2/attention.cc and
// avx512/attention.cc each include their level's vmath.h and then this file inside their own
// namespace, so the two levels compile the same code over 8 or 16 lanes.
// NOTE: include only from an ISA library's attention.cc, after vmath.h.
#pragma once

void attention_softmax_block_f32(float* s, size_t ld, size_t rows, size_t cols, const uint32_t* lim, float* m,
                                 float* l, float* alpha) {
  const V ninf = set1(-std::numeric_limits<float>::infinity());
  for (size_t r = 0; r < rows; ++r) {
    float* row = s + r * ld;
    const size_t n = lim[r] < cols ? lim[r] : cols;
    if (n == 0) {
      for (size_t j = 0; j < cols; j += kLanes) store(row + j, mask_of(cols - j), zero());
      alpha[r] = 1.0f;
      continue;
    }
    V vmax = set1(m[r]);
    for (size_t j = 0; j < n; j += kLanes) vmax = max(vmax, load_or(row + j, mask_of(n - j), ninf));
    const float mx = hmax(vmax);
    const V vm = set1(mx);
    V sum = zero();
    for (size_t j = 0; j < cols; j += kLanes) {
      // visible lanes get exp(s - m); the rest of the block (masked keys) 0
      const M k = mask_of(j < n ? n - j : 0);
      const V e = keep(k, exp(sub(load(row + j, mask_of(cols - j)), vm)));
      store(row + j, mask_of(cols - j), e);
      sum = add(sum, e);
    }
    alpha[r] = std::exp(m[r] - mx);
    l[r] = l[r] * alpha[r] + hsum(sum);
    m[r] = mx;
  }
}

void attention_probs_f32(float* s, size_t ld, size_t rows, size_t cols, const uint32_t* lim, const float* lse) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = s + r * ld;
    const size_t n = lim[r] < cols ? lim[r] : cols;
    const V vl = set1(lse[r]);
    for (size_t j = 0; j < cols; j += kLanes) {
      const M all = mask_of(cols - j);
      store(row + j, all, keep(mask_of(j < n ? n - j : 0), exp(sub(load(row + j, all), vl))));
    }
  }
}

void attention_dscores_f32(float* dp, const float* p, size_t ld, size_t rows, size_t cols, const float* di) {
  for (size_t r = 0; r < rows; ++r) {
    const V vd = set1(di[r]);
    float* g = dp + r * ld;
    const float* pr = p + r * ld;
    for (size_t j = 0; j < cols; j += kLanes) {
      const M all = mask_of(cols - j);
      store(g + j, all, mul(load(pr + j, all), sub(load(g + j, all), vd)));
    }
  }
}
