// Scratch memory owned by an addon instance: packed GEMM panels and the like. Buffers are
// 64-byte aligned, grow on demand and are never given back between calls: a first touch of fresh
// memory costs 12-15 us per 4 KiB page here, far more than the kernels that use it.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace kiln {

class Workspace {
 public:
  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() {
    for (Slot& s : slots_) std::free(s.data);
  }

  // A buffer of at least n floats for `slot`, valid until the next call for the same slot.
  // Returns nullptr when memory runs out (the caller reports it). Call from one thread only.
  float* floats(size_t slot, size_t n) {
    if (slot >= slots_.size()) slots_.resize(slot + 1);
    Slot& s = slots_[slot];
    if (s.capacity < n) {
      std::free(s.data);
      // Panels of 2 MiB and more go on huge pages where the kernel allows it (THP "madvise"):
      // the packed panels are walked in slivers that would otherwise cross many 4 KiB pages.
      const size_t huge = size_t{2} << 20;
      size_t bytes = n * sizeof(float);
      size_t align = bytes >= huge ? huge : 64;
      bytes = (bytes + align - 1) / align * align;
      s.data = static_cast<float*>(std::aligned_alloc(align, bytes));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
      if (s.data && align == huge) madvise(s.data, bytes, MADV_HUGEPAGE);
#endif
      s.capacity = s.data ? n : 0;
    }
    return s.data;
  }

 private:
  struct Slot {
    float* data = nullptr;
    size_t capacity = 0;
  };
  std::vector<Slot> slots_;
};

}  // namespace kiln
