// Reference optimizer updates: one plain loop per optimizer, every element in double and rounded
// once per stored value. The oracle of the SIMD variants and the path on every other CPU.
#include <cmath>

#include "../kernels.h"

namespace kiln {

// PyTorch 1.13's Adam computes these in Python (doubles): bias_correction1 = 1 - beta1 ** step,
// step_size = lr / bias_correction1, bias_correction2_sqrt = sqrt(1 - beta2 ** step); AdamW
// multiplies the parameter by 1 - lr * weight_decay.
void adam_step_constants(AdamStep& s, double t) {
  s.step_size = s.lr / (1.0 - std::pow(s.beta1, t));
  s.bc2_sqrt = std::sqrt(1.0 - std::pow(s.beta2, t));
  s.decay = s.decoupled ? 1.0 - s.lr * s.weight_decay : 1.0;
}

namespace ref {

void sgd_step_f32(float* p, float* v, const float* g, const SgdStep& s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    double gi = g[i];
    // NOTE: skipped, not multiplied by 0, when wd == 0: an Inf parameter must not turn into NaN
    if (s.weight_decay != 0.0) gi += s.weight_decay * p[i];
    double d = gi;
    if (s.momentum != 0.0) {
      double vi = s.first ? gi : s.momentum * v[i] + gi;
      v[i] = static_cast<float>(vi);
      d = s.nesterov ? gi + s.momentum * vi : vi;
    }
    p[i] = static_cast<float>(p[i] - s.lr * d);
  }
}

void adam_step_f32(float* p, float* m, float* v, const float* g, const AdamStep& s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    double gi = g[i], pi = p[i];
    if (s.decoupled) {
      pi *= s.decay;  // AdamW: decay the parameter itself, before the update
    } else if (s.weight_decay != 0.0) {
      gi += s.weight_decay * pi;  // Adam: L2 penalty folded into the gradient
    }
    double mi = s.beta1 * m[i] + (1.0 - s.beta1) * gi;
    double vi = s.beta2 * v[i] + (1.0 - s.beta2) * gi * gi;
    m[i] = static_cast<float>(mi);
    v[i] = static_cast<float>(vi);
    double denom = std::sqrt(vi) / s.bc2_sqrt + s.eps;
    p[i] = static_cast<float>(pi - s.step_size * mi / denom);
  }
}

}  // namespace ref
}  // namespace kiln
