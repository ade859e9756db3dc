#include "thread_pool.h"

#include <cstdlib>
#include <cstring>

#if defined(__linux__)
#include <sched.h>
#endif

namespace kiln {

ThreadPool::ThreadPool(int threads) { start(threads); }

ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::resize(int threads) {
  stop();
  start(threads);
}

void ThreadPool::start(int threads) {
  size_ = threads < 1 ? 1 : (threads > kMaxThreads ? kMaxThreads : threads);
  stopping_ = false;
  // The threads start lazily, at the first run() that can use them: every environment that
  // loads the addon (the HTTP thread only asks isa()) would otherwise park idle threads.
}

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();  // NOTE: a joinable std::thread destroyed = terminate()
  workers_.clear();
}

void ThreadPool::worker_loop() {
  unsigned long seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
    }
    drain();
  }
}

void ThreadPool::drain() {
  for (;;) {
    size_t i;
    const std::function<void(size_t)>* task;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (next_ >= tasks_) return;
      i = next_++;
      task = task_;
    }
    (*task)(i);
    bool last;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last = --unfinished_ == 0;
    }
    if (last) done_.notify_all();
  }
}

void ThreadPool::run(size_t tasks, const std::function<void(size_t)>& task) {
  if (tasks == 0) return;
  if (tasks == 1 || size_ == 1) {  // nothing to share: skip the locks and wake-ups
    for (size_t i = 0; i < tasks; ++i) task(i);
    return;
  }
  if (workers_.empty()) {
    for (int i = 1; i < size_; ++i) workers_.emplace_back([this] { worker_loop(); });
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    task_ = &task;
    tasks_ = tasks;
    next_ = 0;
    unfinished_ = tasks;
    ++generation_;
  }
  wake_.notify_all();
  drain();
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [&] { return unfinished_ == 0; });
  task_ = nullptr;
  tasks_ = 0;
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
