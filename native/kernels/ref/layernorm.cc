// Layer norm over the last axis, the readable reference: per row, statistics in double, then an
// elementwise map. Forward and backward side by side.
//
//   forward   xhat = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps) (biased var),  y = gamma * xhat + beta
//   backward  with g = dy * gamma and D = d:
//             dbeta += sum over rows of dy,  dgamma += sum over rows of dy * xhat,
//             dx += rstd / D * (D * g - sum g - xhat * sum g * xhat)   (per row)
#include <cmath>

#include "../kernels.h"

namespace kiln::ref {

void layer_norm_forward_f32(float* y, float* mean, float* rstd, const float* x, const float* gamma,
                            const float* beta, float eps, size_t rows, size_t d) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    // two passes, the mean and then the centered squares: no cancellation when |mean| >> std
    double sum = 0.0;
    for (size_t j = 0; j < d; ++j) sum += xr[j];
    const double mu = sum / static_cast<double>(d);
    double ss = 0.0;
    for (size_t j = 0; j < d; ++j) ss += (xr[j] - mu) * (xr[j] - mu);
    const double is = 1.0 / std::sqrt(ss / static_cast<double>(d) + eps);
    mean[r] = static_cast<float>(mu);
    rstd[r] = static_cast<float>(is);
    for (size_t j = 0; j < d; ++j) {
      const double v = (xr[j] - mu) * is * (gamma ? gamma[j] : 1.0) + (beta ? beta[j] : 0.0);
      yr[j] = static_cast<float>(v);
    }
  }
}

void layer_norm_backward_f32(float* dx, double* dgamma, double* dbeta, const float* dy, const float* x,
                             const float* gamma, const float* mean, const float* rstd, size_t rows, size_t d) {
  const double dd = static_cast<double>(d);
  for (size_t r = 0; r < rows; ++r) {
    const float *xr = x + r * d, *dyr = dy + r * d;
    const double mu = mean[r], is = rstd[r];
    auto xhat = [&](size_t j) { return (xr[j] - mu) * is; };
    if (dgamma || dbeta) {
      for (size_t j = 0; j < d; ++j) {
        if (dgamma) dgamma[j] += dyr[j] * xhat(j);
        if (dbeta) dbeta[j] += dyr[j];
      }
    }
    if (!dx) continue;
    double sum_g = 0.0, sum_gx = 0.0;
    for (size_t j = 0; j < d; ++j) {
      const double g = dyr[j] * (gamma ? gamma[j] : 1.0);
      sum_g += g;
      sum_gx += g * xhat(j);
    }
    float* dxr = dx + r * d;
    for (size_t j = 0; j < d; ++j) {
      const double g = dyr[j] * (gamma ? gamma[j] : 1.0);
      dxr[j] = static_cast<float>(dxr[j] + is / dd * (dd * g - sum_g - xhat(j) * sum_gx));
    }
  }
}

}  // namespace kiln::ref
