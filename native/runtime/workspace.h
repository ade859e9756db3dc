// Scratch memory owned by an addon instance: packed GEMM panels, per-task buffers, the offset
// tables through which convolutions read their windows. Slots are 64-byte aligned, grow on demand
// and are never given back between calls: a first touch of fresh memory costs 12-15 us per 4 KiB
// page here, far more than the kernels that use it. Once each slot a workload uses has grown to
// its size, the kernels allocate nothing per call (stats() shows it: growths stops moving).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <type_traits>
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
  float* floats(size_t slot, size_t n) { return array<float>(slot, n); }

  // The same for other plain data: offset tables (long), pointers, double sums. A slot holds one
  // kind of data at a time (each caller keeps to its own slots).
  template <typename T>
  T* array(size_t slot, size_t n) {
    static_assert(std::is_trivially_copyable<T>::value && alignof(T) <= 64, "plain data only");
    return static_cast<T*>(bytes(slot, n * sizeof(T)));
  }

  struct Stats {
    size_t bytes = 0;    // reserved over all slots
    size_t growths = 0;  // allocations so far: a slot grown, or the table of slots
  };
  const Stats& stats() const { return stats_; }
  // The bytes each slot holds, for reports: f(slot, bytes) for every slot in use.
  template <typename F>
  void for_each_slot(F f) const {
    for (size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].capacity) f(i, slots_[i].capacity);
  }

 private:
  void* bytes(size_t slot, size_t n) {
    if (slot >= slots_.size()) {
      slots_.resize(slot + 1);
      ++stats_.growths;
    }
    Slot& s = slots_[slot];
    if (s.capacity < n) {
      std::free(s.data);
      stats_.bytes -= s.capacity;
      // Panels of 2 MiB and more go on huge pages where the kernel allows it (THP "madvise"):
      // the packed panels are walked in slivers that would otherwise cross many 4 KiB pages.
      const size_t huge = size_t{2} << 20;
      const size_t align = n >= huge ? huge : 64;
      const size_t rounded = (n + align - 1) / align * align;
      s.data = std::aligned_alloc(align, rounded);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
      if (s.data && align == huge) madvise(s.data, rounded, MADV_HUGEPAGE);
#endif
      s.capacity = s.data ? rounded : 0;
      stats_.bytes += s.capacity;
      ++stats_.growths;
    }
    return s.data;
  }

  struct Slot {
    void* data = nullptr;
    size_t capacity = 0;  // bytes
  };
  std::vector<Slot> slots_;
  Stats stats_;
};

}  // namespace kiln
