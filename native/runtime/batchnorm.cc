// The fast batch normalization (see batchnorm.h). Work goes by groups of channels, and each pass
// walks its group image by image: the group's planes of one image are contiguous, so passes stream
// long runs. A channel-by-channel walk (PyTorch's) reads 256-byte runs 16 KiB apart for 8x8 planes
// and took twice as long. Longer runs won even when a group outgrew L2 between the two passes (L3
// serves the second one nearly as fast), so groups are as large as kGroupFloats and kMaxGroup allow
// (all of a thread's channels for the ResNet-20 shapes). Forward training reads x twice and writes
// y once; backward reads dy and x (and y under the ReLU) twice and updates dx once.
#include "batchnorm.h"

#include <cmath>
#include <cstring>

namespace kiln {
namespace {

constexpr size_t kGroupFloats = size_t{1} << 20;  // 4 MiB of each buffer: a group's passes stay in L3
constexpr size_t kMaxGroup = 256;                 // channels per group (the per-channel arrays below)

// fn(g0, gn) for the groups of channels [g0, g0 + gn) covering [c0, c1). Grouping only changes
// the order channels are visited in: every channel's sums run over its planes in image order.
template <typename Fn>
void for_groups(const BatchNormDims& d, size_t c0, size_t c1, Fn fn) {
  const size_t per_channel = std::max<size_t>(1, d.N * d.HW);
  const size_t size = std::clamp<size_t>(kGroupFloats / per_channel, 1, kMaxGroup);
  for (size_t g0 = c0; g0 < c1; g0 += size) fn(g0, std::min(size, c1 - g0));
}

// The mask bits of image n, channel c (batch_norm_mask_stride), or nullptr without a mask.
template <typename Byte>
Byte* mask_at(Byte* mask, const BatchNormDims& d, size_t n, size_t c) {
  return mask ? mask + (n * d.C + c) * batch_norm_mask_stride(d.HW) : nullptr;
}

}  // namespace

void batch_norm_forward_train(const BatchNormKernels& k, float* y, uint8_t* mask, float* save_mean, float* save_invstd,
                              float* running_mean, float* running_var, const float* x, const float* res,
                              const float* gamma, const float* beta, const BatchNormDims& d, size_t c0, size_t c1) {
  if (d.N == 0 || d.HW == 0) return;  // the binding rejects these in training (no statistics)
  const double m = static_cast<double>(d.N) * static_cast<double>(d.HW);
  for_groups(d, c0, c1, [&](size_t g0, size_t gn) {
    // One pass for both moments, about a shift per channel: var = E[(x-s)^2] - E[x-s]^2. The
    // shift is the mean of the channel's first plane, within sqrt(N) standard deviations of the
    // channel mean, so the subtraction cancels little; x - s is exact near s, so values like
    // 1000 + 0.01 * noise keep their variance (E[x^2] - E[x]^2 in float would be all noise).
    float shift[kMaxGroup] = {};
    double sums[2 * kMaxGroup] = {};
    k.moments(sums, x + g0 * d.HW, shift, gn, d.HW);
    for (size_t j = 0; j < gn; ++j) {
      shift[j] = static_cast<float>(sums[2 * j] / static_cast<double>(d.HW));
      sums[2 * j] = sums[2 * j + 1] = 0.0;
    }
    for (size_t n = 0; n < d.N; ++n) k.moments(sums, x + (n * d.C + g0) * d.HW, shift, gn, d.HW);

    double mean[kMaxGroup];
    float scale[kMaxGroup], bias[kMaxGroup];
    for (size_t j = 0; j < gn; ++j) {
      const size_t c = g0 + j;
      const double dm = sums[2 * j] / m;
      const double var = std::max(0.0, sums[2 * j + 1] / m - dm * dm);  // biased: it normalizes
      const double invstd = 1.0 / std::sqrt(var + d.eps);
      mean[j] = shift[j] + dm;
      save_mean[c] = static_cast<float>(mean[j]);
      save_invstd[c] = static_cast<float>(invstd);
      const double mom = d.momentum;  // the running variance tracks the unbiased one, as PyTorch
      if (running_mean) running_mean[c] = static_cast<float>((1 - mom) * running_mean[c] + mom * mean[j]);
      if (running_var) running_var[c] = static_cast<float>((1 - mom) * running_var[c] + mom * var * m / (m - 1));
      scale[j] = static_cast<float>((gamma ? gamma[c] : 1.0) * invstd);
      bias[j] = beta ? beta[c] : 0.0f;
    }
    for (size_t n = 0; n < d.N; ++n) {
      const size_t off = (n * d.C + g0) * d.HW;
      k.apply(y + off, mask_at(mask, d, n, g0), x + off, res ? res + off : nullptr, mean, scale, bias, d.relu, gn,
              d.HW);
    }
  });
}

void batch_norm_forward_eval(const BatchNormKernels& k, float* y, uint8_t* mask, const float* x, const float* res,
                             const float* gamma, const float* beta, const float* running_mean,
                             const float* running_var, const BatchNormDims& d, size_t c0, size_t c1) {
  for_groups(d, c0, c1, [&](size_t g0, size_t gn) {
    double mean[kMaxGroup];
    float scale[kMaxGroup], bias[kMaxGroup];
    for (size_t j = 0; j < gn; ++j) {
      const size_t c = g0 + j;
      mean[j] = running_mean[c];
      scale[j] = static_cast<float>((gamma ? gamma[c] : 1.0) / std::sqrt(static_cast<double>(running_var[c]) + d.eps));
      bias[j] = beta ? beta[c] : 0.0f;
    }
    for (size_t n = 0; n < d.N; ++n) {
      const size_t off = (n * d.C + g0) * d.HW;
      k.apply(y + off, mask_at(mask, d, n, g0), x + off, res ? res + off : nullptr, mean, scale, bias, d.relu, gn,
              d.HW);
    }
  });
}

void batch_norm_backward(const BatchNormKernels& k, float* dx, float* dres, float* dgamma, float* dbeta,
                         const float* dy, const float* x, const float* y, const uint8_t* mask, const float* gamma,
                         const float* mean, const float* invstd, bool training, BatchNormOverwrite overwrite,
                         const BatchNormDims& d, size_t c0, size_t c1) {
  const double m = static_cast<double>(d.N) * static_cast<double>(d.HW);
  const bool need_sums = dgamma || dbeta || (dx && training);
  auto at = [&](auto* p, size_t n, size_t g0) { return p ? p + (n * d.C + g0) * d.HW : p; };  // image n, channel g0
  // the fused ReLU masks dy: its mask bits, else its output (y > 0)
  const float* y_mask = d.relu && !mask ? y : nullptr;
  if (!d.relu) mask = nullptr;
  for_groups(d, c0, c1, [&](size_t g0, size_t gn) {
    double sums[2 * kMaxGroup] = {};  // per channel: sum g, sum g * (x - mean)
    if (need_sums) {
      for (size_t n = 0; n < d.N; ++n) {
        k.grad_sums(sums, at(dy, n, g0), at(x, n, g0), at(y_mask, n, g0), mask_at(mask, d, n, g0), mean + g0, gn, d.HW);
      }
    }
    // dx = a/M * (M g - sum g - xhat * sum g xhat) with a = gamma * invstd and xhat = (x - mean) *
    // invstd, i.e. a g + b (x - mean) + c; in evaluation the statistics are constants: a g.
    float a[kMaxGroup], b[kMaxGroup], cc[kMaxGroup];
    for (size_t j = 0; j < gn; ++j) {
      const size_t c = g0 + j;
      const double is = invstd[c], sum_g = sums[2 * j], sum_gx = sums[2 * j + 1];
      if (dbeta) dbeta[c] = static_cast<float>(dbeta[c] + sum_g);
      if (dgamma) dgamma[c] = static_cast<float>(dgamma[c] + sum_gx * is);  // sum g * xhat
      const double ac = (gamma ? gamma[c] : 1.0) * is;
      a[j] = static_cast<float>(ac);
      b[j] = training ? static_cast<float>(-ac * is * is * sum_gx / m) : 0.0f;
      cc[j] = training ? static_cast<float>(-ac * sum_g / m) : 0.0f;
    }
    if (!dx && !dres) return;
    for (size_t n = 0; n < d.N; ++n) {
      // overwrite: the output holds garbage; zeroed here, a few planes at a time, while they are in L1
      if (dx && overwrite.dx) std::memset(at(dx, n, g0), 0, gn * d.HW * sizeof(float));
      if (dres && overwrite.dres) std::memset(at(dres, n, g0), 0, gn * d.HW * sizeof(float));
      k.grad_input(at(dx, n, g0), at(dres, n, g0), at(dy, n, g0), at(x, n, g0), at(y_mask, n, g0),
                   mask_at(mask, d, n, g0), mean + g0, a, b, cc, gn, d.HW);
    }
  });
}

void batch_norm_save_running(float* save_mean, float* save_invstd, const float* running_mean,
                             const float* running_var, const BatchNormDims& d, size_t c0, size_t c1) {
  for (size_t c = c0; c < c1; ++c) {
    save_mean[c] = running_mean[c];
    save_invstd[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(running_var[c]) + d.eps));
  }
}

}  // namespace kiln
