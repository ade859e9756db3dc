// Optimizer updates: one fused pass over a parameter buffer and its state, exactly the arithmetic
// of torch.optim.SGD / Adam / AdamW (PyTorch 1.13, the single-tensor path), element by element.
// Included from kernels.h; never includes napi.h.
//
// The hyper-parameters arrive as doubles (a JS number, as PyTorch's Python floats). The reference
// computes every element in double and rounds once per stored value; the SIMD variants round the
// scalars to float once per call, as PyTorch does when it passes a Python float to a float32
// tensor op, and compute in float32 lanes.
#pragma once

#include <cstddef>

namespace kiln {

// torch.optim.SGD with dampening 0:
//   g' = g + wd * p                                 (only when wd != 0: 0 * Inf would be NaN)
//   v  = first ? g' : momentum * v + g'             (only when momentum != 0; v untouched else)
//   d  = nesterov ? g' + momentum * v : v           (d = g' without momentum)
//   p  = p - lr * d
struct SgdStep {
  double lr = 0.0;
  double momentum = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;  // requires momentum != 0
  bool first = false;     // the first step: the momentum buffer is set to g', not read
};

// torch.optim.Adam (decoupled = false) and AdamW (decoupled = true), step t >= 1:
//   Adam:  g' = g + wd * p (only when wd != 0)       AdamW: p = p * (1 - lr * wd), g' = g
//   m = beta1 * m + (1 - beta1) * g'
//   v = beta2 * v + (1 - beta2) * g' * g'
//   p = p - step_size * m / (sqrt(v) / bc2_sqrt + eps)
// with step_size = lr / (1 - beta1^t) and bc2_sqrt = sqrt(1 - beta2^t): eps is added after the
// square root of the bias-corrected second moment, as PyTorch does.
struct AdamStep {
  double lr = 0.0;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled = false;  // AdamW
  // derived once per call by adam_step_constants (baseline code), read by every variant:
  double step_size = 0.0;  // lr / (1 - beta1^t)
  double bc2_sqrt = 1.0;   // sqrt(1 - beta2^t)
  double decay = 1.0;      // AdamW: 1 - lr * wd; 1 for Adam
};

// Fills the derived fields of `s` for step t (t >= 1), in double as PyTorch's Python code does.
// Defined in ref/optim.cc (baseline flags); the ISA variants only read the result.
void adam_step_constants(AdamStep& s, double t);

// Declares the optimizer kernels in one ISA namespace (as KILN_DECLARE_KERNELS in kernels.h).
// Each updates elements [0, n) of its buffers in place; the runtime splits n over threads.
#define KILN_DECLARE_OPTIM_KERNELS(ns)                                                                   \
  namespace ns {                                                                                       \
  /* p:(n) param, v:(n) momentum buffer (nullptr when momentum == 0), g:(n) gradient (read only) */ \
  void sgd_step_f32(float* p, float* v, const float* g, const SgdStep& s, size_t n);                    \
  /* p:(n) param, m:(n) and v:(n) first and second moments, g:(n) gradient (read only) */            \
  void adam_step_f32(float* p, float* m, float* v, const float* g, const AdamStep& s, size_t n);        \
  }

KILN_DECLARE_OPTIM_KERNELS(ref)
KILN_DECLARE_OPTIM_KERNELS(avx2)
KILN_DECLARE_OPTIM_KERNELS(avx512)

#undef KILN_DECLARE_OPTIM_KERNELS

}  // namespace kiln
