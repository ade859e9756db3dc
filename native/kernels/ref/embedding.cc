// Embedding lookup and its scatter-add backward. The ids were checked by the binding.
#include <cstring>

#include "../kernels.h"

namespace kiln::ref {

void embedding_forward_f32(float* y, const int32_t* ids, const float* table, size_t d, size_t i0, size_t i1) {
  for (size_t i = i0; i < i1; ++i) std::memcpy(y + i * d, table + static_cast<size_t>(ids[i]) * d, d * sizeof(float));
}

void embedding_backward_f32(float* dtable, const int32_t* ids, const float* dy, size_t n, size_t d, size_t v0,
                            size_t v1) {
  for (size_t i = 0; i < n; ++i) {
    const size_t v = static_cast<size_t>(ids[i]);
    if (v < v0 || v >= v1) continue;
    float* row = dtable + v * d;
    const float* g = dy + i * d;
    for (size_t j = 0; j < d; ++j) row[j] += g[j];
  }
}

}  // namespace kiln::ref
