// The GEMM driver: cache blocking, packing and threading around an ISA's register tile, or the
// reference loops when the active level has no tile (ref). See kernels.h for the semantics.
#pragma once

#include <cstddef>

#include "../kernels/kernels.h"
#include "thread_pool.h"
#include "workspace.h"

namespace kiln {

struct GemmKernel {
  void (*tile)(const GemmTile&) = nullptr;  // nullptr: use the reference GEMM
  GemmShape shape{1, 1};
  // packing into the tile's layout (see kernels.h); required whenever tile is set
  void (*pack_a)(float* out, const float* a, size_t lda, bool trans, size_t mc, size_t kc) = nullptr;
  void (*pack_b)(float* out, const float* b, size_t ldb, bool trans, size_t nc, size_t kc) = nullptr;
};

struct GemmBatch {
  size_t count = 1;
  size_t stride_a = 0, stride_b = 0, stride_c = 0;  // in floats; A and B strides may be 0 (shared)
};

// C = act(alpha op(A) op(B) + beta C + bias) for each of batch.count problems. Returns false only
// when the workspace could not be allocated (C is then untouched).
bool gemm(ThreadPool& pool, Workspace& ws, const GemmKernel& kernel, float* c, const float* a, const float* b,
          const GemmDims& d, const GemmBatch& batch);

}  // namespace kiln
