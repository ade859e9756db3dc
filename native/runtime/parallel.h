// Splitting work over the pool so that results never depend on the thread count:
//  - maps (elementwise) split a range into contiguous chunks: each element is computed alone;
//  - reductions split into blocks of a FIXED size, whatever the thread count, and add the
//    block partials in block order.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "thread_pool.h"

namespace kiln {

// Elementwise work below this many floats runs on the calling thread: waking a thread costs
// more than streaming 128 KiB.
constexpr size_t kMapGrain = size_t{1} << 15;
// Reduction block: small enough to split 1M floats over many threads, large enough that the
// per-block overhead is noise.
constexpr size_t kReduceBlock = size_t{1} << 14;

// Calls fn(begin, end) over contiguous chunks covering [0, n); chunk edges fall on multiples of
// `align` elements so that threads never share a cache line.
template <typename Fn>
void parallel_range(ThreadPool& pool, size_t n, size_t grain, size_t align, Fn fn) {
  if (n == 0) return;
  size_t chunks = std::min<size_t>(static_cast<size_t>(pool.size()), (n + grain - 1) / grain);
  if (chunks <= 1) {
    fn(size_t{0}, n);
    return;
  }
  size_t per = (n + chunks - 1) / chunks;
  per = (per + align - 1) / align * align;
  pool.run(chunks, [&](size_t i) {
    size_t begin = std::min(n, i * per), end = std::min(n, begin + per);
    if (begin < end) fn(begin, end);
  });
}

// Sum over [0, n) of block(begin, end), with blocks of kReduceBlock elements. Identical for
// every pool size: the blocks and the order their partials are added in never change.
template <typename Fn>
double parallel_sum(ThreadPool& pool, size_t n, Fn block) {
  size_t blocks = (n + kReduceBlock - 1) / kReduceBlock;
  if (blocks <= 1) return n == 0 ? 0.0 : block(size_t{0}, n);
  std::vector<double> partial(blocks);
  parallel_range(pool, blocks, 1, 1, [&](size_t b0, size_t b1) {
    for (size_t b = b0; b < b1; ++b) {
      size_t begin = b * kReduceBlock;
      partial[b] = block(begin, std::min(n, begin + kReduceBlock));
    }
  });
  double s = 0.0;
  for (double p : partial) s += p;
  return s;
}

}  // namespace kiln
