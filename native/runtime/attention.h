// The fast attention: flash-attention-style tiles of queries x keys over the GEMM register tile,
// with the online softmax of the ISA's row pieces (kernels/attention.h). Memory is per thread and
// O(block), never O(Tq x Tk). At the ref level (no register tile) the reference loops run.
#pragma once

#include <cstddef>

#include "../kernels/attention.h"
#include "gemm.h"
#include "thread_pool.h"
#include "workspace.h"

namespace kiln {

struct AttentionKernels {
  GemmKernel gemm;
  void (*softmax_block)(float*, size_t, size_t, size_t, const uint32_t*, float*, float*, float*);
  void (*probs)(float*, size_t, size_t, size_t, const uint32_t*, const float*);
  void (*dscores)(float*, const float*, size_t, size_t, size_t, const float*);
  void (*dropout)(float*, const float*, const DropoutDims&, uint64_t, size_t);  // the dropout kernel's forward
};

// Contracts as ref::attention_forward_f32 / attention_backward_f32 over every (b, h). Results
// are identical for every thread count. Return false only when scratch memory ran out (outputs
// then untouched). With overwrite, dq/dk/dv hold garbage and rows [0, Tq) / [0, Tk) of every
// (b, h) are written (the bits of adding into zeros); rows past Tk of a kvCapacity are not.
bool attention_forward(ThreadPool& pool, Workspace& ws, const AttentionKernels& k, float* out, float* lse,
                       const float* q, const float* key, const float* v, const AttentionDims& d);
bool attention_backward(ThreadPool& pool, Workspace& ws, const AttentionKernels& k, float* dq, float* dk, float* dv,
                        const float* dout, const float* q, const float* key, const float* v, const float* out,
                        const float* lse, const AttentionDims& d, bool overwrite = false);

}  // namespace kiln
