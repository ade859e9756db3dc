// Softmax, log-softmax and softmax cross-entropy over the last axis, the readable reference: per
// row, shifted by the row maximum, sums in double. Forward and backward side by side.
//
//   softmax      y = exp(x - m) / s,  s = sum exp(x - m);   backward dx += y * (dy - sum dy*y)
//   log-softmax  y = x - m - log s;                          backward dx += dy - exp(y) * sum dy
//   cross-entropy (see CrossEntropyDims): lse = m + log s, saved as (m, log s),
//                loss = lse - (1 - eps) z_t - eps * mean z,  dz += scale * (exp(z - lse) - q)
// NaN anywhere in a row makes the whole row NaN (through s), as in PyTorch; so does +inf, and a row
// of only -inf (max - max is NaN).
#include <cmath>

#include "../kernels.h"

namespace kiln::ref {
namespace {

// The row maximum and log sum exp(x - max), in double.
struct RowStats {
  double max, log_sum;
};

RowStats row_stats(const float* x, size_t d) {
  double m = -INFINITY;
  for (size_t j = 0; j < d; ++j) m = std::max(m, static_cast<double>(x[j]));
  double s = 0.0;
  for (size_t j = 0; j < d; ++j) s += std::exp(x[j] - m);
  return {m, std::log(s)};
}

}  // namespace

void softmax_forward_f32(float* y, const float* x, size_t rows, size_t d) {
  for (size_t r = 0; r < rows; ++r) {
    const RowStats st = row_stats(x + r * d, d);
    for (size_t j = 0; j < d; ++j) y[r * d + j] = static_cast<float>(std::exp(x[r * d + j] - st.max - st.log_sum));
  }
}

void softmax_backward_f32(float* dx, const float* dy, const float* y, size_t rows, size_t d) {
  for (size_t r = 0; r < rows; ++r) {
    const size_t o = r * d;
    double dot = 0.0;
    for (size_t j = 0; j < d; ++j) dot += static_cast<double>(dy[o + j]) * y[o + j];
    for (size_t j = 0; j < d; ++j) dx[o + j] = static_cast<float>(dx[o + j] + y[o + j] * (dy[o + j] - dot));
  }
}

void log_softmax_forward_f32(float* y, const float* x, size_t rows, size_t d) {
  for (size_t r = 0; r < rows; ++r) {
    const RowStats st = row_stats(x + r * d, d);
    for (size_t j = 0; j < d; ++j) y[r * d + j] = static_cast<float>(x[r * d + j] - st.max - st.log_sum);
  }
}

void log_softmax_backward_f32(float* dx, const float* dy, const float* y, size_t rows, size_t d) {
  for (size_t r = 0; r < rows; ++r) {
    const size_t o = r * d;
    double sum = 0.0;
    for (size_t j = 0; j < d; ++j) sum += dy[o + j];
    for (size_t j = 0; j < d; ++j) dx[o + j] = static_cast<float>(dx[o + j] + dy[o + j] - std::exp(y[o + j]) * sum);
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
    const RowStats st = row_stats(z, d.V);
    const double l = st.max + st.log_sum;
    double sum = 0.0;  // only needed with smoothing; -inf logits make it -inf and the loss +inf
    if (eps != 0.0)
      for (size_t c = 0; c < d.V; ++c) sum += z[c];
    lse[2 * r] = static_cast<float>(st.max);  // a float already: max of floats
    lse[2 * r + 1] = static_cast<float>(st.log_sum);
    loss[r] = (1.0 - eps) * (l - z[targets[r]]) + (eps != 0.0 ? eps * (l - sum / static_cast<double>(d.V)) : 0.0);
  }
}

void cross_entropy_backward_f32(float* dlogits, const float* logits, const int32_t* targets, const float* lse,
                                float scale, const CrossEntropyDims& d, size_t rows) {
  const double eps = d.label_smoothing, smooth = eps / static_cast<double>(d.V);
  for (size_t r = 0; r < rows; ++r) {
    const int32_t t = targets[r];
    if (t == d.ignore_index) continue;
    const float* z = logits + r * d.V;
    float* dz = dlogits + r * d.V;
    for (size_t c = 0; c < d.V; ++c) {
      const double q = smooth + (static_cast<int32_t>(c) == t ? 1.0 - eps : 0.0);
      const double p = std::exp(static_cast<double>(z[c]) - lse[2 * r] - lse[2 * r + 1]);
      dz[c] = static_cast<float>(dz[c] + scale * (p - q));
    }
  }
}

}  // namespace kiln::ref
