// See sequence.h.
#include "sequence.h"

#include <algorithm>

#include "parallel.h"

namespace kiln {
namespace {

constexpr size_t kSlot = 32768;  // workspace slots: clear of gemm's, conv's and attention's

}  // namespace

size_t row_grain(size_t d) { return std::max<size_t>(1, kMapGrain / std::max<size_t>(1, 4 * d)); }

bool layer_norm_backward(ThreadPool& pool, Workspace& ws, LayerNormBackwardFn fn, float* dx, float* dgamma,
                         float* dbeta, const float* dy, const float* x, const float* gamma, const float* mean,
                         const float* rstd, size_t rows, size_t d, bool overwrite) {
  auto call = [&](size_t r0, size_t n, double* pg, double* pb) {
    // overwrite: dx holds garbage; these rows are zeroed just before the kernel adds into them
    if (dx && overwrite) std::fill(dx + r0 * d, dx + (r0 + n) * d, 0.0f);
    fn(dx ? dx + r0 * d : nullptr, pg, pb, dy + r0 * d, x + r0 * d, gamma, mean + r0, rstd + r0, n, d);
  };
  if (!dgamma && !dbeta) {
    // in chunks of kLayerNormChunk rows, so that a zeroed chunk is still in cache when added to
    parallel_range(pool, rows, row_grain(d), 1, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; r += kLayerNormChunk) call(r, std::min(kLayerNormChunk, r1 - r), nullptr, nullptr);
    });
    return true;
  }
  // chunk c sums rows [c*K, (c+1)*K) into its own 2*d doubles (dgamma's, then dbeta's)
  const size_t chunks = (rows + kLayerNormChunk - 1) / kLayerNormChunk;
  double* part = reinterpret_cast<double*>(ws.floats(kSlot, 2 * (chunks * 2 * d + 1)));
  if (!part) return false;
  std::fill(part, part + chunks * 2 * d, 0.0);
  parallel_range(pool, chunks, std::max<size_t>(1, row_grain(d) / kLayerNormChunk), 1, [&](size_t c0, size_t c1) {
    for (size_t c = c0; c < c1; ++c) {
      double* p = part + c * 2 * d;
      const size_t r0 = c * kLayerNormChunk;
      call(r0, std::min(kLayerNormChunk, rows - r0), dgamma ? p : nullptr, dbeta ? p + d : nullptr);
    }
  });
  // chunk 0's partials collect the others, in chunk order (streaming, not strided)
  for (size_t c = 1; c < chunks; ++c) {
    const double* p = part + c * 2 * d;
    for (size_t j = 0; j < 2 * d; ++j) part[j] += p[j];
  }
  for (size_t j = 0; j < d; ++j) {
    if (dgamma) dgamma[j] = static_cast<float>(dgamma[j] + part[j]);
    if (dbeta) dbeta[j] = static_cast<float>(dbeta[j] + part[d + j]);
  }
  return true;
}

bool cross_entropy_forward(ThreadPool& pool, Workspace& ws, CrossEntropyForwardFn fn, double* total, float* lse,
                           const float* logits, const int32_t* targets, const CrossEntropyDims& d, size_t rows) {
  double* loss = reinterpret_cast<double*>(ws.floats(kSlot + 1, 2 * rows + 2));
  if (!loss) return false;
  parallel_range(pool, rows, row_grain(d.V), 1, [&](size_t r0, size_t r1) {
    fn(lse + 2 * r0, loss + r0, logits + r0 * d.V, targets + r0, d, r1 - r0);
  });
  double s = 0.0;
  for (size_t r = 0; r < rows; ++r) s += loss[r];
  *total = s;
  return true;
}

}  // namespace kiln
