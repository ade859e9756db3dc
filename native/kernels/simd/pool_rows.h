// The row bookkeeping the vector max-pool forwards share (avx2/pool.cc, avx512/pool.cc). Output
// rows go kPoolRows at a time, the same columns of each: a window's taps are one chain (compare
// with the best so far, then select), and four independent chains overlap. A block also knows
// which input rows the next block reads first; fetching their lines in software ahead of use is
// what made the difference (the hardware prefetcher lags on these short strided rows): ResNet-18's
// 3x3/s2 pool at 224 took 9.7 ms on one thread and 4.8 on two with AVX-512, and takes 5.5 and
// 2.8-3.0 ms.
#pragma once

#include <xmmintrin.h>

#include <cstddef>
#include <cstdint>

#include "../kernels.h"

namespace kiln {
namespace {

constexpr size_t kPoolRows = 4;

struct PoolRowBlock {
  size_t rows;               // output rows in the block: kPoolRows, fewer at the plane's end
  long h_start[kPoolRows];   // each row's first window row (negative in the top padding)
  long ahead;                // the rows [ahead, ahead + kPoolRows*stride_h) come first in the next block
};

inline PoolRowBlock pool_row_block(const Pool2dDims& d, size_t p0) {
  PoolRowBlock b;
  b.rows = d.P - p0 < kPoolRows ? d.P - p0 : kPoolRows;
  for (size_t j = 0; j < kPoolRows; ++j)
    b.h_start[j] = static_cast<long>((p0 + j) * d.stride_h) - static_cast<long>(d.pad_h);
  b.ahead = b.h_start[kPoolRows - 1] + static_cast<long>(d.R);
  return b;
}

// Fetches floats [col, col + span) of the rows the next block reads first, in the plane at
// x + plane_at (past the plane's end they are the next plane's rows; a prefetch never faults, and
// the address is formed as an integer so that it may point past the tensor).
inline void prefetch_next_rows(const float* x, size_t plane_at, const PoolRowBlock& b, const Pool2dDims& d, long col,
                               long span) {
  const long W = static_cast<long>(d.W);
  const uintptr_t base = reinterpret_cast<uintptr_t>(x) + sizeof(float) * plane_at;
  for (long h = b.ahead; h < b.ahead + static_cast<long>(kPoolRows * d.stride_h); ++h)
    for (long w = 0; w < span; w += 16)
      _mm_prefetch(reinterpret_cast<const char*>(base + sizeof(float) * static_cast<uintptr_t>(h * W + col + w)),
                   _MM_HINT_T0);
}

}  // namespace
}  // namespace kiln
