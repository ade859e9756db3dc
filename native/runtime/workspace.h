// Scratch memory owned by an addon instance: packed GEMM panels and the like. Buffers are
// 64-byte aligned, grow on demand and are never given back between calls: a first touch of fresh
// memory costs 12-15 us per 4 KiB page here, far more than the kernels that use it.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <vector>

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
      size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
      s.data = static_cast<float*>(std::aligned_alloc(64, bytes));
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
