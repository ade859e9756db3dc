// Splitting work over the pool so that results never depend on the thread count:
//  - maps (elementwise) split a range into contiguous chunks: each element is computed alone;
//  - reductions split into blocks of a FIXED size, whatever the thread count, and add the
//    block partials in block order.
#pragma once

#include <algorithm>
#include <atomic>
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

// Calls fn(slot, i) for every i in [0, n) from up to pool.size() tasks that claim the items one
// at a time from a shared counter; `slot` (below min(pool.size(), n)) names the task, for
// per-task scratch. A static split waits for its slowest thread, and on a shared machine one
// thread is often slowed down by other processes: claiming lets the others take its share. Only
// for items whose results do not depend on which task runs them or in what order (disjoint
// outputs), so results stay identical for any thread count.
template <typename Fn>
void parallel_claim(ThreadPool& pool, size_t n, Fn fn) {
  const size_t tasks = std::min<size_t>(static_cast<size_t>(pool.size()), n);
  if (tasks <= 1) {
    for (size_t i = 0; i < n; ++i) fn(size_t{0}, i);
    return;
  }
  std::atomic<size_t> next{0};
  pool.run(tasks, [&](size_t t) {
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) fn(t, i);
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
