// Batch normalization, the readable reference: per channel, statistics in double over the N planes
// of that channel (N*HW values), then an elementwise map. Forward and backward side by side.
//
//   forward   xhat = (x - mean) * invstd,  invstd = 1 / sqrt(var + eps),  y = gamma * xhat + beta
//   backward  with g = dy (masked by y > 0 under the fused ReLU) and M = N*HW:
//             dbeta = sum g,  dgamma = sum g*xhat,
//             dx = gamma*invstd/M * (M*g - sum g - xhat * sum g*xhat)   (training: mean and var
//             depend on x), or gamma*invstd*g (evaluation: they are constants)
#include <cmath>

#include "../kernels.h"

namespace kiln::ref {
namespace {

// Calls fn(i) for the offset i of every value of channel c, plane by plane.
template <typename Fn>
void for_channel(const BatchNormDims& d, size_t c, Fn fn) {
  for (size_t n = 0; n < d.N; ++n) {
    const size_t base = (n * d.C + c) * d.HW;
    for (size_t i = 0; i < d.HW; ++i) fn(base + i);
  }
}

// Bit i of a plane's mask (batch_norm_mask_stride): set to `on`, or read.
void set_bit(uint8_t* plane, size_t i, bool on) {
  const auto bit = static_cast<uint8_t>(1u << (i % 8));
  plane[i / 8] = static_cast<uint8_t>(on ? plane[i / 8] | bit : plane[i / 8] & ~bit);
}
bool bit(const uint8_t* plane, size_t i) { return (plane[i / 8] >> (i % 8)) & 1u; }

// y = gamma * (x - mean) * invstd + beta, plus the residual (a float add, as a separate op's),
// then the fused ReLU; NaN passes through it. mask: the bits of y > 0.
void normalize(float* y, uint8_t* mask, const float* x, const float* res, const float* gamma, const float* beta,
               double mean, double invstd, const BatchNormDims& d, size_t c) {
  const double g = gamma ? gamma[c] : 1.0, b = beta ? beta[c] : 0.0;
  const size_t stride = batch_norm_mask_stride(d.HW);
  for_channel(d, c, [&](size_t i) {
    double v = g * (x[i] - mean) * invstd + b;
    if (res) v = static_cast<float>(v) + res[i];  // a float sum, exact in double
    if (d.relu && v < 0) v = 0;
    y[i] = static_cast<float>(v);
    if (mask) set_bit(mask + i / d.HW * stride, i % d.HW, y[i] > 0);
  });
}

}  // namespace

void batch_norm_forward_train_f32(float* y, uint8_t* mask, float* save_mean, float* save_invstd, float* running_mean,
                                  float* running_var, const float* x, const float* res, const float* gamma,
                                  const float* beta, const BatchNormDims& d, size_t c0, size_t c1) {
  const double m = static_cast<double>(d.N) * static_cast<double>(d.HW);
  for (size_t c = c0; c < c1; ++c) {
    // Two passes, the mean and then the centered squares: no cancellation when |mean| >> std.
    double sum = 0.0;
    for_channel(d, c, [&](size_t i) { sum += x[i]; });
    const double mean = sum / m;
    double ss = 0.0;
    for_channel(d, c, [&](size_t i) { ss += (x[i] - mean) * (x[i] - mean); });
    const double var = ss / m;  // biased: it normalizes
    const double invstd = 1.0 / std::sqrt(var + d.eps);
    save_mean[c] = static_cast<float>(mean);
    save_invstd[c] = static_cast<float>(invstd);
    // The running variance tracks the unbiased estimate (as PyTorch); the caller ensures m > 1.
    const double mom = d.momentum;
    if (running_mean) running_mean[c] = static_cast<float>((1 - mom) * running_mean[c] + mom * mean);
    if (running_var) running_var[c] = static_cast<float>((1 - mom) * running_var[c] + mom * var * m / (m - 1));
    normalize(y, mask, x, res, gamma, beta, mean, invstd, d, c);
  }
}

void batch_norm_forward_eval_f32(float* y, uint8_t* mask, const float* x, const float* res, const float* gamma,
                                 const float* beta, const float* running_mean, const float* running_var,
                                 const BatchNormDims& d, size_t c0, size_t c1) {
  for (size_t c = c0; c < c1; ++c) {
    normalize(y, mask, x, res, gamma, beta, running_mean[c], 1.0 / std::sqrt(static_cast<double>(running_var[c]) + d.eps), d, c);
  }
}

void batch_norm_backward_f32(float* dx, float* dres, float* dgamma, float* dbeta, const float* dy, const float* x,
                             const float* y, const uint8_t* mask, const float* gamma, const float* mean,
                             const float* invstd, bool training, const BatchNormDims& d, size_t c0, size_t c1) {
  const double m = static_cast<double>(d.N) * static_cast<double>(d.HW);
  const size_t stride = batch_norm_mask_stride(d.HW);
  auto passed = [&](size_t i) { return mask ? bit(mask + i / d.HW * stride, i % d.HW) : y[i] > 0; };
  for (size_t c = c0; c < c1; ++c) {
    const double mu = mean[c], is = invstd[c], g = gamma ? gamma[c] : 1.0;
    auto grad = [&](size_t i) { return d.relu && !passed(i) ? 0.0 : static_cast<double>(dy[i]); };
    double sum_g = 0.0, sum_gx = 0.0;  // sum g, sum g*xhat
    for_channel(d, c, [&](size_t i) {
      sum_g += grad(i);
      sum_gx += grad(i) * (x[i] - mu) * is;
    });
    if (dbeta) dbeta[c] = static_cast<float>(dbeta[c] + sum_g);
    if (dgamma) dgamma[c] = static_cast<float>(dgamma[c] + sum_gx);
    if (dres) for_channel(d, c, [&](size_t i) { dres[i] = static_cast<float>(dres[i] + grad(i)); });
    if (!dx) continue;
    for_channel(d, c, [&](size_t i) {
      const double xhat = (x[i] - mu) * is;
      const double v = training ? g * is / m * (m * grad(i) - sum_g - xhat * sum_gx) : g * is * grad(i);
      dx[i] = static_cast<float>(dx[i] + v);
    });
  }
}

// ---- The pieces of the fast path (runtime/batchnorm.cc) over consecutive planes, for the ref
// table entries: the binding runs the functions above at the ref level, and these compute the same
// formulas in double so that every op has a portable variant.

void batch_norm_moments_f32(double* sums, const float* x, const float* shift, size_t planes, size_t hw) {
  for (size_t p = 0; p < planes; ++p) {
    double s = 0.0, ss = 0.0;
    for (size_t i = p * hw; i < (p + 1) * hw; ++i) {
      const double v = static_cast<double>(x[i]) - shift[p];
      s += v;
      ss += v * v;
    }
    sums[2 * p] += s;
    sums[2 * p + 1] += ss;
  }
}

void batch_norm_apply_f32(float* y, uint8_t* mask, const float* x, const float* res, const double* mean,
                          const float* scale, const float* bias, bool relu, size_t planes, size_t hw) {
  const size_t stride = batch_norm_mask_stride(hw);
  for (size_t p = 0; p < planes; ++p) {
    for (size_t i = p * hw; i < (p + 1) * hw; ++i) {
      double v = (x[i] - mean[p]) * scale[p] + bias[p];
      if (res) v = static_cast<float>(v) + res[i];
      y[i] = static_cast<float>(relu && v < 0 ? 0.0 : v);
      if (mask) set_bit(mask + p * stride, i - p * hw, y[i] > 0);
    }
  }
}

namespace {
// g: dy where the fused ReLU passed (mask bits, else y > 0), or dy
double masked(const float* dy, const float* y, const uint8_t* mask, size_t p, size_t i, size_t hw) {
  if (mask) return bit(mask + p * batch_norm_mask_stride(hw), i - p * hw) ? dy[i] : 0.0;
  return y && !(y[i] > 0) ? 0.0 : dy[i];
}
}  // namespace

void batch_norm_grad_sums_f32(double* sums, const float* dy, const float* x, const float* y, const uint8_t* mask,
                              const float* mean, size_t planes, size_t hw) {
  for (size_t p = 0; p < planes; ++p) {
    double s = 0.0, sx = 0.0;
    for (size_t i = p * hw; i < (p + 1) * hw; ++i) {
      const double g = masked(dy, y, mask, p, i, hw);
      s += g;
      sx += g * (static_cast<double>(x[i]) - mean[p]);
    }
    sums[2 * p] += s;
    sums[2 * p + 1] += sx;
  }
}

void batch_norm_grad_input_f32(float* dx, float* dres, const float* dy, const float* x, const float* y,
                               const uint8_t* mask, const float* mean, const float* a, const float* b, const float* c,
                               size_t planes, size_t hw) {
  for (size_t p = 0; p < planes; ++p) {
    for (size_t i = p * hw; i < (p + 1) * hw; ++i) {
      const double g = masked(dy, y, mask, p, i, hw);
      if (dres) dres[i] = static_cast<float>(dres[i] + g);
      if (!dx) continue;
      const double t = static_cast<double>(a[p]) * g + static_cast<double>(b[p]) * (x[i] - mean[p]) + c[p];
      dx[i] = static_cast<float>(dx[i] + t);
    }
  }
}

}  // namespace kiln::ref
