// Reference reductions. They accumulate in double: the oracle should be the most accurate one.
#include "../kernels.h"

namespace kiln::ref {

double sum_f32(const float* x, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) s += x[i];
  return s;
}

double sumsq_f32(const float* x, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s;
}

void column_sum_f32(float* y, const float* x, size_t rows, size_t cols, size_t ld) {
  for (size_t c = 0; c < cols; ++c) {
    double s = 0.0;
    for (size_t r = 0; r < rows; ++r) s += x[r * ld + c];
    y[c] += static_cast<float>(s);
  }
}

}  // namespace kiln::ref
