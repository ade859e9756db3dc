// The fast batch normalization: a few passes of the SIMD pieces declared in kernels/kernels.h
// (batch_norm_moments/apply/grad_sums/grad_input) over groups of channels. Each function has the
// contract of its ref:: counterpart (kernels/ref/batchnorm.cc, the oracle and the ref-level path)
// over channels [c0, c1); for_channels splits channels over the pool.
#pragma once

#include <algorithm>
#include <cstddef>

#include "../kernels/kernels.h"
#include "parallel.h"
#include "thread_pool.h"

namespace kiln {

struct BatchNormKernels {
  void (*moments)(double*, const float*, const float*, size_t, size_t);
  void (*apply)(float*, uint8_t*, const float*, const float*, const double*, const float*, const float*, bool, size_t,
                size_t);
  void (*grad_sums)(double*, const float*, const float*, const float*, const uint8_t*, const float*, size_t, size_t);
  void (*grad_input)(float*, float*, const float*, const float*, const float*, const uint8_t*, const float*,
                     const float*, const float*, const float*, size_t, size_t);
};

// fn(c0, c1) over contiguous channel ranges. A channel is computed start to end by one thread, in
// a fixed order, so results never depend on the thread count.
template <typename Fn>
void for_channels(ThreadPool& pool, const BatchNormDims& d, Fn fn) {
  const size_t per_channel = std::max<size_t>(1, d.N * d.HW);
  parallel_range(pool, d.C, std::max<size_t>(1, kMapGrain / per_channel), 1, fn);
}

// Batch statistics (one pass of shifted moments), the running-stat update, then y (+ res, the
// residual, when not nullptr; then the ReLU, whose mask bits go to `mask` when not nullptr).
void batch_norm_forward_train(const BatchNormKernels& k, float* y, uint8_t* mask, float* save_mean, float* save_invstd,
                              float* running_mean, float* running_var, const float* x, const float* res,
                              const float* gamma, const float* beta, const BatchNormDims& d, size_t c0, size_t c1);
void batch_norm_forward_eval(const BatchNormKernels& k, float* y, uint8_t* mask, const float* x, const float* res,
                             const float* gamma, const float* beta, const float* running_mean,
                             const float* running_var, const BatchNormDims& d, size_t c0, size_t c1);

// Which gradient outputs hold garbage (fresh buffers) and are written rather than added to.
struct BatchNormOverwrite {
  bool dx = false, dres = false;
};
// The ReLU's mask: its bits when `mask` is not nullptr, else y > 0.
void batch_norm_backward(const BatchNormKernels& k, float* dx, float* dres, float* dgamma, float* dbeta,
                         const float* dy, const float* x, const float* y, const uint8_t* mask, const float* gamma,
                         const float* mean, const float* invstd, bool training, BatchNormOverwrite overwrite,
                         const BatchNormDims& d, size_t c0, size_t c1);

// Evaluation saves the running statistics the way training saves the batch ones, so backward takes
// the same arguments: save_mean = running_mean, save_invstd = 1 / sqrt(running_var + eps).
void batch_norm_save_running(float* save_mean, float* save_invstd, const float* running_mean,
                             const float* running_var, const BatchNormDims& d, size_t c0, size_t c1);

}  // namespace kiln
