// The multi-threaded sequence ops whose split needs more than parallel_range: layer norm's
// backward (dgamma/dbeta are reductions over rows) and cross-entropy's loss (a sum over rows).
// Both split rows into FIXED chunks, whatever the thread count, and add the chunks' partials in
// chunk order, so results never depend on the thread count.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../kernels/sequence.h"
#include "thread_pool.h"
#include "workspace.h"

namespace kiln {

using LayerNormBackwardFn = void (*)(float*, double*, double*, const float*, const float*, const float*,
                                     const float*, const float*, size_t, size_t);
using CrossEntropyForwardFn = void (*)(float*, double*, const float*, const int32_t*, const CrossEntropyDims&, size_t);

// dx += ..., dgamma += ..., dbeta += ... over (rows, d); each output may be nullptr; with
// overwrite, dx = ... (its old contents ignored). Returns false when the workspace for the chunk
// partials cannot be allocated.
bool layer_norm_backward(ThreadPool& pool, Workspace& ws, LayerNormBackwardFn fn, float* dx, float* dgamma,
                         float* dbeta, const float* dy, const float* x, const float* gamma, const float* mean,
                         const float* rstd, size_t rows, size_t d, bool overwrite = false);

// Fills lse:(rows, 2) and returns the sum of the row losses (rows in order). Returns false when
// the workspace cannot be allocated.
bool cross_entropy_forward(ThreadPool& pool, Workspace& ws, CrossEntropyForwardFn fn, double* total, float* lse,
                           const float* logits, const int32_t* targets, const CrossEntropyDims& d, size_t rows);

// Rows per task of a row kernel over rows of d floats: enough work to be worth waking a thread.
size_t row_grain(size_t d);

}  // namespace kiln
