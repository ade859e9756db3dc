// The fp32 FMA peak probe: independent FMA chains and nothing else, so the benchmarks can quote
// every kernel as a fraction of what this machine's cores can do.
#include <immintrin.h>

#include "../kernels.h"

namespace kiln::avx512 {

double fma_peak_f32(size_t iters) {
  // 12 chains of 16 lanes: more than the 2 pipes x 4 cycles of latency need.
  __m512 acc[12];
  const __m512 m = _mm512_set1_ps(0.999999f), add = _mm512_set1_ps(1e-7f);
#pragma GCC unroll 12
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  for (size_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], m, add);
  }
  __m512 s = acc[0];
#pragma GCC unroll 12
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);  // returned so the loop is not optimized away
}

}  // namespace kiln::avx512
