// A fixed pool of native threads, one pool per addon instance (so per worker thread / job).
// The calling thread takes part in the work, so a pool of size 1 starts no thread at all.
//
// Handing out a batch costs well under a microsecond while the workers are awake: they spin for
// a short while (kSpin) after each batch before they sleep on a condition variable, because a
// training step issues many kernel calls back to back and waking a sleeping thread costs tens of
// microseconds in a VM.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace kiln {

// What run() calls: a borrowed reference to the caller's callable, task(i) calling fn(i). It
// never copies the callable, so handing run() a lambda allocates nothing; std::function would put
// any capture list over 16 bytes on the heap, on every call. run() returns before the caller's
// lambda goes out of scope, so the reference stays valid for as long as it is used.
class TaskRef {
 public:
  template <typename Fn, typename = std::enable_if_t<!std::is_same<std::decay_t<Fn>, TaskRef>::value>>
  TaskRef(const Fn& fn)  // implicit: run(n, [&](size_t i) { ... })
      : fn_(&fn), call_([](const void* f, size_t i) { (*static_cast<const Fn*>(f))(i); }) {}
  void operator()(size_t i) const { call_(fn_, i); }

 private:
  const void* fn_;
  void (*call_)(const void*, size_t);
};

class ThreadPool {
 public:
  static constexpr int kMaxThreads = 256;

  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }
  // Stops the current threads; `threads - 1` new ones start with the next run(). Not callable
  // during run().
  void resize(int threads);

  // Runs task(i) for every i in [0, tasks) and returns when all have finished. Tasks must not
  // throw and must not call run() themselves. Which thread runs which task is not fixed, so a
  // task's result may depend on i only: that keeps results identical for any pool size.
  void run(size_t tasks, TaskRef task);

 private:
  // claim_ packs the batch generation (high 24 bits), its task count (20 bits) and the next
  // unclaimed task (low 20 bits), so that taking a task is one compare-and-swap that can never
  // take a task of another batch.
  static constexpr int kIndexBits = 20;
  static constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;
  static uint64_t gen_of(uint64_t c) { return c >> (2 * kIndexBits); }
  static uint64_t count_of(uint64_t c) { return (c >> kIndexBits) & kIndexMask; }
  static uint64_t next_of(uint64_t c) { return c & kIndexMask; }

  void start_workers();
  void stop_workers();
  void worker_loop(uint64_t seen);
  void drain(uint64_t gen);  // runs tasks of batch `gen` until none is left to take

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> claim_{0};
  std::atomic<size_t> unfinished_{0};
  const TaskRef* task_ = nullptr;  // written before claim_ publishes a batch
  std::atomic<bool> stopping_{false};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> caller_waiting_{false};  // run() sleeps on done_ until the batch is finished
  std::mutex mu_;
  std::condition_variable wake_, done_;
};

// One step of a spin-wait: tells the core it is polling (less power, and a sibling hyperthread
// gets the pipeline). Used by the pool's workers and by kernels that wait on each other.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// The default size: KILN_THREADS when it is a positive integer, otherwise the CPUs this process
// may run on (its affinity mask, which containers and taskset narrow).
int default_thread_count();

}  // namespace kiln
