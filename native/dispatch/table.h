// The table of kernels an addon instance calls: one function pointer per op, each picked from
// that op's ordered candidate list (fastest first, `ref` last) as the first one the ISA cap allows.
#pragma once

#include <cstddef>

#include "cpu.h"
#include "../runtime/gemm.h"
#include "../kernels/optim.h"

namespace kiln {

template <typename Fn>
struct Picked {
  Fn fn{};
  Isa isa = Isa::ref;  // the level of the variant that was picked, for isa() reports
};

struct KernelTable {
  Picked<void (*)(float*, const float*, const float*, size_t)> add, mul;
  Picked<void (*)(float*, float, const float*, size_t)> axpy;
  Picked<void (*)(float*, const float*, float, size_t)> scale;
  Picked<void (*)(float*, const float*, size_t)> relu_forward;
  Picked<void (*)(float*, const float*, const float*, size_t)> relu_backward;
  Picked<double (*)(const float*, size_t)> sum, sumsq;
  Picked<void (*)(float*, const float*, size_t, size_t, size_t)> column_sum;
  Picked<GemmKernel> gemm;
  // batch norm over runs of consecutive planes (runtime/batchnorm.cc)
  Picked<void (*)(double*, const float*, const float*, size_t, size_t)> batch_norm_moments;
  Picked<void (*)(float*, const float*, const double*, const float*, const float*, bool, size_t, size_t)>
      batch_norm_apply;
  Picked<void (*)(double*, const float*, const float*, const float*, const float*, size_t, size_t)>
      batch_norm_grad_sums;
  Picked<void (*)(float*, const float*, const float*, const float*, const float*, const float*, const float*,
                  const float*, size_t, size_t)>
      batch_norm_grad_input;
  // optimizer updates (kernels/optim.h)
  Picked<void (*)(float*, float*, const float*, const SgdStep&, size_t)> sgd_step;
  Picked<void (*)(float*, float*, float*, const float*, const AdamStep&, size_t)> adam_step;
};

// Calls visit(name, isa) for every op in the table, in declaration order.
template <typename Visit>
void for_each_op(const KernelTable& t, Visit visit) {
  visit("add", t.add.isa);
  visit("mul", t.mul.isa);
  visit("axpy", t.axpy.isa);
  visit("scale", t.scale.isa);
  visit("reluForward", t.relu_forward.isa);
  visit("reluBackward", t.relu_backward.isa);
  visit("sum", t.sum.isa);
  visit("sumsq", t.sumsq.isa);
  visit("columnSum", t.column_sum.isa);
  visit("gemm", t.gemm.isa);
  visit("batchNormMoments", t.batch_norm_moments.isa);
  visit("batchNormApply", t.batch_norm_apply.isa);
  visit("batchNormGradSums", t.batch_norm_grad_sums.isa);
  visit("batchNormGradInput", t.batch_norm_grad_input.isa);
  visit("sgdStep", t.sgd_step.isa);
  visit("adamStep", t.adam_step.isa);
}

// Builds the table for kernels of level <= cap. The caller makes sure the CPU supports `cap`.
KernelTable make_kernel_table(Isa cap);

}  // namespace kiln
