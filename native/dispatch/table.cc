// Candidate lists per op. Compiled with baseline flags: it only takes addresses of ISA kernels,
// it never calls them.
#include "table.h"

#include <initializer_list>

#include "../kernels/attention.h"
#include "../kernels/kernels.h"

namespace kiln {
namespace {

template <typename Fn>
struct Candidate {
  Isa isa;
  Fn fn;
};

// The first candidate whose level the cap allows. Every list ends in `ref`, so one always fits.
template <typename Fn>
Picked<Fn> pick(Isa cap, std::initializer_list<Candidate<Fn>> candidates) {
  for (const Candidate<Fn>& c : candidates) {
    if (static_cast<int>(c.isa) <= static_cast<int>(cap)) return {c.fn, c.isa};
  }
  return {};
}

}  // namespace

// The x86 SIMD libraries exist only on x86-64 builds; elsewhere every list is just `ref`.
#if defined(KILN_X86_ISA_LIBS)
#define KILN_CANDIDATES(op) {{Isa::avx512, &avx512::op}, {Isa::avx2, &avx2::op}, {Isa::ref, &ref::op}}
#else
#define KILN_CANDIDATES(op) {{Isa::ref, &ref::op}}
#endif

KernelTable make_kernel_table(Isa cap) {
  KernelTable t;
  t.add = pick<decltype(t.add.fn)>(cap, KILN_CANDIDATES(add_f32));
  t.mul = pick<decltype(t.mul.fn)>(cap, KILN_CANDIDATES(mul_f32));
  t.axpy = pick<decltype(t.axpy.fn)>(cap, KILN_CANDIDATES(axpy_f32));
  t.scale = pick<decltype(t.scale.fn)>(cap, KILN_CANDIDATES(scale_f32));
  t.relu_forward = pick<decltype(t.relu_forward.fn)>(cap, KILN_CANDIDATES(relu_forward_f32));
  t.relu_backward = pick<decltype(t.relu_backward.fn)>(cap, KILN_CANDIDATES(relu_backward_f32));
  t.sum = pick<decltype(t.sum.fn)>(cap, KILN_CANDIDATES(sum_f32));
  t.sumsq = pick<decltype(t.sumsq.fn)>(cap, KILN_CANDIDATES(sumsq_f32));
  t.column_sum = pick<decltype(t.column_sum.fn)>(cap, KILN_CANDIDATES(column_sum_f32));
  t.batch_norm_moments = pick<decltype(t.batch_norm_moments.fn)>(cap, KILN_CANDIDATES(batch_norm_moments_f32));
  t.batch_norm_apply = pick<decltype(t.batch_norm_apply.fn)>(cap, KILN_CANDIDATES(batch_norm_apply_f32));
  t.batch_norm_grad_sums = pick<decltype(t.batch_norm_grad_sums.fn)>(cap, KILN_CANDIDATES(batch_norm_grad_sums_f32));
  t.batch_norm_grad_input = pick<decltype(t.batch_norm_grad_input.fn)>(cap, KILN_CANDIDATES(batch_norm_grad_input_f32));
  t.attention_softmax_block = pick<decltype(t.attention_softmax_block.fn)>(cap, KILN_CANDIDATES(attention_softmax_block_f32));
  t.attention_probs = pick<decltype(t.attention_probs.fn)>(cap, KILN_CANDIDATES(attention_probs_f32));
  t.attention_dscores = pick<decltype(t.attention_dscores.fn)>(cap, KILN_CANDIDATES(attention_dscores_f32));
  t.sgd_step = pick<decltype(t.sgd_step.fn)>(cap, KILN_CANDIDATES(sgd_step_f32));
  t.adam_step = pick<decltype(t.adam_step.fn)>(cap, KILN_CANDIDATES(adam_step_f32));
  t.layer_norm_forward = pick<decltype(t.layer_norm_forward.fn)>(cap, KILN_CANDIDATES(layer_norm_forward_f32));
  t.layer_norm_backward = pick<decltype(t.layer_norm_backward.fn)>(cap, KILN_CANDIDATES(layer_norm_backward_f32));
  t.softmax_forward = pick<decltype(t.softmax_forward.fn)>(cap, KILN_CANDIDATES(softmax_forward_f32));
  t.softmax_backward = pick<decltype(t.softmax_backward.fn)>(cap, KILN_CANDIDATES(softmax_backward_f32));
  t.log_softmax_forward = pick<decltype(t.log_softmax_forward.fn)>(cap, KILN_CANDIDATES(log_softmax_forward_f32));
  t.log_softmax_backward = pick<decltype(t.log_softmax_backward.fn)>(cap, KILN_CANDIDATES(log_softmax_backward_f32));
  t.cross_entropy_forward = pick<decltype(t.cross_entropy_forward.fn)>(cap, KILN_CANDIDATES(cross_entropy_forward_f32));
  t.cross_entropy_backward = pick<decltype(t.cross_entropy_backward.fn)>(cap, KILN_CANDIDATES(cross_entropy_backward_f32));
  t.gelu_forward = pick<decltype(t.gelu_forward.fn)>(cap, KILN_CANDIDATES(gelu_forward_f32));
  t.gelu_backward = pick<decltype(t.gelu_backward.fn)>(cap, KILN_CANDIDATES(gelu_backward_f32));
  t.gelu_tanh_forward = pick<decltype(t.gelu_tanh_forward.fn)>(cap, KILN_CANDIDATES(gelu_tanh_forward_f32));
  t.gelu_tanh_backward = pick<decltype(t.gelu_tanh_backward.fn)>(cap, KILN_CANDIDATES(gelu_tanh_backward_f32));
  t.dropout_forward = pick<decltype(t.dropout_forward.fn)>(cap, KILN_CANDIDATES(dropout_forward_f32));
  t.dropout_backward = pick<decltype(t.dropout_backward.fn)>(cap, KILN_CANDIDATES(dropout_backward_f32));
  t.max_pool_forward = pick<decltype(t.max_pool_forward.fn)>(cap, KILN_CANDIDATES(max_pool2d_forward_f32));
  // GEMM: a register tile per SIMD level; the reference (no tile) is the readable triple loop.
  t.gemm = pick<GemmKernel>(cap, {
#if defined(KILN_X86_ISA_LIBS)
                                     {Isa::avx512, GemmKernel{&avx512::gemm_tile_f32, avx512::kGemmShape, &avx512::gemm_pack_a_f32, &avx512::gemm_pack_b_f32}},
                                     {Isa::avx2, GemmKernel{&avx2::gemm_tile_f32, avx2::kGemmShape, &avx2::gemm_pack_a_f32, &avx2::gemm_pack_b_f32}},
#endif
                                     {Isa::ref, GemmKernel{}},
                                 });
  return t;
}

#undef KILN_CANDIDATES

}  // namespace kiln
