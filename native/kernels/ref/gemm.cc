// The reference GEMM: the definition, written out. Accumulates in double so that it is the
// most accurate variant; every blocked kernel is tested against it.
#include <cmath>

#include "../kernels.h"

namespace kiln::ref {

double act_f64(Act act, double x) {
  switch (act) {
    case Act::relu: return x < 0.0 ? 0.0 : x;  // NaN passes, as in relu_forward_f32
    case Act::gelu: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case Act::none: break;
  }
  return x;
}

void gemm_f32(float* c, const float* a, const float* b, const GemmDims& d, size_t m0, size_t m1) {
  for (size_t i = m0; i < m1; ++i) {
    for (size_t j = 0; j < d.N; ++j) {
      double acc = 0.0;
      for (size_t p = 0; p < d.K; ++p) {
        double aip = d.trans_a  ? a[p * d.lda + i]
                     : d.a_rows ? a[d.a_rows[i] + d.a_taps[p / d.a_run] + static_cast<long>(p % d.a_run)]
                                : a[i * d.lda + p];  // op(A)[i, p]
        const long col = d.b_taps ? d.b_taps[j / d.b_run] + static_cast<long>(j % d.b_run) : static_cast<long>(j);
        double bpj = d.trans_b ? b[j * d.ldb + p] : d.b_rows ? b[d.b_rows[p] + col] : b[p * d.ldb + j];  // op(B)[p, j]
        acc += aip * bpj;
      }
      float& cij = d.c_rows ? c[d.c_rows[i] + static_cast<long>(j)] : c[i * d.ldc + j];
      double v = static_cast<double>(d.alpha) * acc;
      if (d.beta != 0.0f) v += static_cast<double>(d.beta) * cij;
      if (d.epilogue.bias_row) v += d.epilogue.bias_row[i];
      if (d.epilogue.bias_col) v += d.epilogue.bias_col[j];
      cij = static_cast<float>(act_f64(d.epilogue.act, v));
    }
  }
}

}  // namespace kiln::ref
