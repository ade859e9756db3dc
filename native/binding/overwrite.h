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

// Calls add(offset, count) over [o, o + c) of dx: once, or, with overwrite, block by block with
// each block zeroed first.
template <typename Add>
void add_into(float* dx, bool overwrite, size_t o, size_t c, Add add) {
  if (!overwrite) return add(o, c);
  for (size_t b = o; b < o + c; b += kZeroBlock) {
    const size_t m = std::min(kZeroBlock, o + c - b);
    std::memset(dx + b, 0, m * sizeof(float));
    add(b, m);
  }
}

}  // namespace kiln
