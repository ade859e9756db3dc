// The backward ops' optional `overwrite` argument (Tensor.gradTarget in src/tensor/tensor.ts):
// the gradient buffer then holds garbage, and the kernels only add. Each block is zeroed just
// before its kernel adds into it, while it sits in L1, instead of in a pass of its own through
// memory beforehand (a ResNet-20 step used to zero 243 MB of gradients that way).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace kiln {

constexpr size_t kZeroBlock = 4096;  // floats (16 KiB)

// Calls fn(offset, count) over [o, o + c) in blocks of kZeroBlock (each still in L1 when the
// next step of the same block reads it).
template <typename Fn>
void each_block(size_t o, size_t c, Fn fn) {
  for (size_t b = o; b < o + c; b += kZeroBlock) fn(b, std::min(kZeroBlock, o + c - b));
}

// Calls add(offset, count) over [o, o + c) of dx: once, or, with overwrite, block by block with
// each block zeroed first.
template <typename Add>
void add_into(float* dx, bool overwrite, size_t o, size_t c, Add add) {
  if (!overwrite) return add(o, c);
  each_block(o, c, [&](size_t b, size_t m) {
    std::memset(dx + b, 0, m * sizeof(float));
    add(b, m);
  });
}

}  // namespace kiln
