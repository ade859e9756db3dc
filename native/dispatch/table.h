// The table of kernels an addon instance calls: one function pointer per op, each picked from
// that op's ordered candidate list (fastest first, `ref` last) as the first one the ISA cap allows.
#pragma once

#include <cstddef>

#include "cpu.h"
#include "../runtime/gemm.h"
#include "../kernels/attention.h"
#include "../kernels/optim.h"
#include "../kernels/sequence.h"

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
  Picked<void (*)(float*, uint8_t*, const float*, const float*, const double*, const float*, const float*, bool,
                  size_t, size_t)>
      batch_norm_apply;
  Picked<void (*)(double*, const float*, const float*, const float*, const uint8_t*, const float*, size_t, size_t)>
      batch_norm_grad_sums;
  Picked<void (*)(float*, float*, const float*, const float*, const float*, const uint8_t*, const float*,
                  const float*, const float*, const float*, size_t, size_t)>
      batch_norm_grad_input;
  // the row pieces of the tiled attention (kernels/attention.h)
  Picked<void (*)(float*, size_t, size_t, size_t, const uint32_t*, float*, float*, float*)> attention_softmax_block;
  Picked<void (*)(float*, size_t, size_t, size_t, const uint32_t*, const float*)> attention_probs;
  Picked<void (*)(float*, const float*, size_t, size_t, size_t, const float*)> attention_dscores;
  // optimizer updates (kernels/optim.h)
  Picked<void (*)(float*, float*, const float*, const SgdStep&, size_t)> sgd_step;
  Picked<void (*)(float*, float*, float*, const float*, const AdamStep&, size_t)> adam_step;
  // sequence kernels (kernels/sequence.h)
  Picked<void (*)(float*, float*, float*, const float*, const float*, const float*, float, size_t, size_t)>
      layer_norm_forward;
  Picked<void (*)(float*, double*, double*, const float*, const float*, const float*, const float*, const float*,
                  size_t, size_t)>
      layer_norm_backward;
  Picked<void (*)(float*, const float*, size_t, size_t)> softmax_forward, log_softmax_forward;
  Picked<void (*)(float*, const float*, const float*, size_t, size_t)> softmax_backward, log_softmax_backward;
  Picked<void (*)(float*, double*, const float*, const int32_t*, const CrossEntropyDims&, size_t)>
      cross_entropy_forward;
  Picked<void (*)(float*, const float*, const int32_t*, const float*, float, const CrossEntropyDims&, size_t)>
      cross_entropy_backward;
  Picked<void (*)(float*, const float*, size_t)> gelu_forward, gelu_tanh_forward;
  Picked<void (*)(float*, const float*, const float*, size_t)> gelu_backward, gelu_tanh_backward;
  Picked<void (*)(float*, const float*, const DropoutDims&, uint64_t, size_t)> dropout_forward, dropout_backward;
  // pooling: planes [c0, c1)
  Picked<void (*)(float*, int32_t*, const float*, const Pool2dDims&, size_t, size_t)> max_pool_forward;
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
  visit("attentionSoftmaxBlock", t.attention_softmax_block.isa);
  visit("attentionProbs", t.attention_probs.isa);
  visit("attentionDscores", t.attention_dscores.isa);
  visit("sgdStep", t.sgd_step.isa);
  visit("adamStep", t.adam_step.isa);
  visit("layerNormForward", t.layer_norm_forward.isa);
  visit("layerNormBackward", t.layer_norm_backward.isa);
  visit("softmaxForward", t.softmax_forward.isa);
  visit("softmaxBackward", t.softmax_backward.isa);
  visit("logSoftmaxForward", t.log_softmax_forward.isa);
  visit("logSoftmaxBackward", t.log_softmax_backward.isa);
  visit("crossEntropyForward", t.cross_entropy_forward.isa);
  visit("crossEntropyBackward", t.cross_entropy_backward.isa);
  visit("geluForward", t.gelu_forward.isa);
  visit("geluBackward", t.gelu_backward.isa);
  visit("geluTanhForward", t.gelu_tanh_forward.isa);
  visit("geluTanhBackward", t.gelu_tanh_backward.isa);
  visit("dropoutForward", t.dropout_forward.isa);
  visit("dropoutBackward", t.dropout_backward.isa);
  visit("maxPoolForward", t.max_pool_forward.isa);
}

// Builds the table for kernels of level <= cap. The caller makes sure the CPU supports `cap`.
KernelTable make_kernel_table(Isa cap);

}  // namespace kiln
