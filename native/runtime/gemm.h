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
  void (*pack_b)(float* out, const float* b, size_t ldb, bool trans, size_t nc, size_t kc, size_t ks) = nullptr;
};

struct GemmBatch {
  size_t count = 1;
  size_t stride_a = 0, stride_b = 0, stride_c = 0;  // in floats; A and B strides may be 0 (shared)
};

// C = act(alpha op(A) op(B) + beta C + bias) for each of batch.count problems. Returns false only
// when the workspace could not be allocated (C is then untouched).
bool gemm(ThreadPool& pool, Workspace& ws, const GemmKernel& kernel, float* c, const float* a, const float* b,
          const GemmDims& d, const GemmBatch& batch);

// For drivers that split the work over threads themselves (convolution: one image per task):
// one GEMM on the calling thread, packing into caller-provided buffers of the sizes that
// gemm_scratch gives. The result is bit-identical to gemm()'s unless gemm_splits_k(d), when
// gemm() adds fixed K chunks in double (callers that need identical results check it first).
struct GemmScratch {
  size_t a_floats, b_floats;
};
GemmScratch gemm_scratch(const GemmKernel& kernel, const GemmDims& d);
bool gemm_splits_k(const GemmDims& d);
void gemm_serial(const GemmKernel& kernel, float* apack, float* bpack, float* c, const float* a, const float* b,
                 const GemmDims& d);

// A B operand packed once and reused by many GEMMs (a layer's weight during inference): op(B), K x
// N, in the kernel's layout, GemmDims::b_packed (NR-column slivers of all K rows, zero past N).
// Without a tile (ref) the layout is op(B) itself, row-major K x N. The layout depends on the
// kernel, so a panel is only valid for the kernel that packed it.
size_t gemm_packed_b_floats(const GemmKernel& kernel, size_t n, size_t k);
void gemm_pack_b_panel(const GemmKernel& kernel, float* out, const float* b, size_t ldb, bool trans_b, size_t n, size_t k);

}  // namespace kiln
