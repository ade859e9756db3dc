// GELU (the exact erf form and the tanh approximation) and dropout, the readable reference, in
// double. Forward and backward side by side.
//
//   gelu       y = x Phi(x),  Phi(x) = erfc(-x / sqrt 2) / 2;   dy/dx = Phi(x) + x phi(x)
//   gelu tanh  y = x/2 (1 + tanh u) = x s,  u = sqrt(2/pi) (x + 0.044715 x^3),  s = sigmoid(2u);
//              dy/dx = s + x s (1 - s) 2 u'(x),  u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
//   dropout    y = x * m,  m = keep(seed, i) ? 1/(1-p) : 0;  dx += dy * m
// As in PyTorch, gelu(-inf) is NaN (-inf * 0) and NaN passes through everything, dropped
// elements included (x * 0).
#include <cmath>

#include "../kernels.h"

namespace kiln::ref {
namespace {

constexpr double kSqrt1_2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kTanhCubic = 0.044715;

double phi_cdf(double x) { return 0.5 * std::erfc(-x * kSqrt1_2); }

// s = sigmoid(2u) = (1 + tanh u) / 2 and u'(x) of the tanh form
double tanh_gate(double x) { return 1.0 / (1.0 + std::exp(-2.0 * kSqrt2OverPi * (x + kTanhCubic * x * x * x))); }

// lowbias32 (Chris Wellons' hash-prospector): a well-mixed bijection of 32-bit integers
uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

double dropout_multiplier(const DropoutDims& d, uint64_t i) {
  return (dropout_hash(d.seed, i) >> 8) >= d.threshold ? d.scale : 0.0;
}

}  // namespace

void gelu_forward_f32(float* y, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = static_cast<float>(x[i] * phi_cdf(x[i]));
}

void gelu_backward_f32(float* dx, const float* dy, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const double v = x[i];
    dx[i] = static_cast<float>(dx[i] + dy[i] * (phi_cdf(v) + v * kInvSqrt2Pi * std::exp(-0.5 * v * v)));
  }
}

void gelu_tanh_forward_f32(float* y, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = static_cast<float>(x[i] * tanh_gate(x[i]));
}

void gelu_tanh_backward_f32(float* dx, const float* dy, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const double v = x[i], s = tanh_gate(v);
    const double du = kSqrt2OverPi * (1.0 + 3.0 * kTanhCubic * v * v);
    dx[i] = static_cast<float>(dx[i] + dy[i] * (s + v * s * (1.0 - s) * 2.0 * du));
  }
}

// The key of element i's block of 2^32 elements mixes both halves of the seed and the block; the
// element's hash is two more rounds over its low 32 bits.
uint32_t dropout_hash(uint64_t seed, uint64_t i) {
  const uint32_t key = mix32(static_cast<uint32_t>(seed) ^
                             mix32(static_cast<uint32_t>(seed >> 32) ^ mix32(static_cast<uint32_t>(i >> 32) + 0x9e3779b9U)));
  return mix32(mix32(static_cast<uint32_t>(i) ^ key) + key);
}

void dropout_forward_f32(float* y, const float* x, const DropoutDims& d, uint64_t start, size_t n) {
  // float arithmetic here, as in the SIMD variants: x * scale rounds once, so every ISA agrees bit for bit
  for (size_t i = 0; i < n; ++i) y[i] = x[i] * static_cast<float>(dropout_multiplier(d, start + i));
}

void dropout_backward_f32(float* dx, const float* dy, const DropoutDims& d, uint64_t start, size_t n) {
  // one rounding (an FMA), as the SIMD variants: every ISA agrees bit for bit
  for (size_t i = 0; i < n; ++i) dx[i] = std::fma(dy[i], static_cast<float>(dropout_multiplier(d, start + i)), dx[i]);
}

}  // namespace kiln::ref
