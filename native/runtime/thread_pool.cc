#include "thread_pool.h"

#include <chrono>
#include <cstdlib>

#if defined(__linux__)
#include <sched.h>
#endif

namespace kiln {

namespace {

// How long an idle worker keeps polling for the next batch before it sleeps.
constexpr auto kSpin = std::chrono::microseconds(50);

}  // namespace

ThreadPool::ThreadPool(int threads) { resize(threads); }

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::resize(int threads) {
  stop_workers();
  size_ = threads < 1 ? 1 : (threads > kMaxThreads ? kMaxThreads : threads);
  // The threads start lazily, at the first run() that can use them: every environment that
  // loads the addon (the HTTP thread only asks isa()) would otherwise park idle threads.
}

void ThreadPool::start_workers() {
  stopping_.store(false);
  // NOTE: the generation is read here, not in the new thread: a thread that started after run()
  // published its batch would otherwise take that batch as already seen and leave it all to the
  // caller.
  const uint64_t seen = gen_of(claim_.load(std::memory_order_acquire));
  for (int i = 1; i < size_; ++i) workers_.emplace_back([this, seen] { worker_loop(seen); });
}

void ThreadPool::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_.store(true);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();  // NOTE: a joinable std::thread destroyed = terminate()
  workers_.clear();
}

void ThreadPool::worker_loop(uint64_t seen) {
  for (;;) {
    // Poll for a new batch for a while, then sleep until run() or stop wakes us.
    auto deadline = std::chrono::steady_clock::now() + kSpin;
    uint64_t gen = seen;
    for (unsigned spins = 0;; ++spins) {
      gen = gen_of(claim_.load(std::memory_order_acquire));
      if (gen != seen || stopping_.load(std::memory_order_relaxed)) break;
      if ((spins & 255) == 255 && std::chrono::steady_clock::now() > deadline) break;
      cpu_relax();
    }
    if (gen == seen && !stopping_.load()) {
      std::unique_lock<std::mutex> lock(mu_);
      sleepers_.fetch_add(1);  // seq_cst: pairs with run()'s load after it publishes a batch
      wake_.wait(lock, [&] { return stopping_.load() || gen_of(claim_.load()) != seen; });
      sleepers_.fetch_sub(1);
      gen = gen_of(claim_.load(std::memory_order_acquire));
    }
    if (stopping_.load()) return;
    seen = gen;
    drain(gen);
  }
}

void ThreadPool::drain(uint64_t gen) {
  for (;;) {
    uint64_t c = claim_.load(std::memory_order_acquire);
    if (gen_of(c) != gen || next_of(c) >= count_of(c)) return;
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) continue;
    // The batch cannot finish while this task is unfinished, so task_ is still this batch's.
    (*task_)(static_cast<size_t>(next_of(c)));
    // seq_cst, with caller_waiting_ below: either the caller sees 0 or this sees it waiting
    if (unfinished_.fetch_sub(1) == 1 && caller_waiting_.load()) {
      std::lock_guard<std::mutex> lock(mu_);
      done_.notify_one();
    }
  }
}

void ThreadPool::run(size_t tasks, TaskRef task) {
  if (tasks == 0) return;
  if (tasks == 1 || size_ == 1) {  // nothing to share: no atomics, no wake-ups
    for (size_t i = 0; i < tasks; ++i) task(i);
    return;
  }
  // A batch holds at most 2^20 tasks; larger requests (none in Kiln) go in several.
  if (tasks > kIndexMask) {
    for (size_t base = 0; base < tasks; base += kIndexMask) {
      size_t n = tasks - base < kIndexMask ? tasks - base : kIndexMask;
      run(n, [&](size_t i) { task(base + i); });
    }
    return;
  }
  if (workers_.empty()) start_workers();

  task_ = &task;
  unfinished_.store(tasks, std::memory_order_relaxed);
  const uint64_t gen = (gen_of(claim_.load()) + 1) & ((uint64_t{1} << (64 - 2 * kIndexBits)) - 1);
  claim_.store((gen << (2 * kIndexBits)) | (static_cast<uint64_t>(tasks) << kIndexBits));  // seq_cst publish
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    wake_.notify_all();
  }
  drain(gen);
  // Wait for the tasks other threads took: poll for a while (they usually finish together), then
  // sleep, so that a long task elsewhere does not keep this core busy doing nothing (other jobs'
  // threads may need it).
  auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (unsigned spins = 0; unfinished_.load(std::memory_order_acquire) != 0; ++spins) {
    if ((spins & 255) == 255 && std::chrono::steady_clock::now() > deadline) {
      std::unique_lock<std::mutex> lock(mu_);
      caller_waiting_.store(true);
      done_.wait(lock, [&] { return unfinished_.load() == 0; });
      caller_waiting_.store(false);
      break;
    }
    cpu_relax();
  }
}

int default_thread_count() {
  if (const char* env = std::getenv("KILN_THREADS")) {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1) return n > ThreadPool::kMaxThreads ? ThreadPool::kMaxThreads : static_cast<int>(n);
  }
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n >= 1) return n;
  }
#endif
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

}  // namespace kiln
