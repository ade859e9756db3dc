// A fixed pool of native threads, one pool per addon instance (so per worker thread / job).
// The calling thread takes part in the work, so a pool of size 1 starts no thread at all.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln {

class ThreadPool {
 public:
  static constexpr int kMaxThreads = 256;

  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }
  // Stops the current threads and starts `threads - 1` new ones. Not callable during run().
  void resize(int threads);

  // Runs task(i) for every i in [0, tasks) and returns when all have finished. Tasks must not
  // throw and must not call run() themselves. Which thread runs which task is not fixed, so a
  // task's result may depend on i only: that keeps results identical for any pool size.
  void run(size_t tasks, const std::function<void(size_t)>& task);

 private:
  void start(int threads);
  void stop();
  void worker_loop();
  void drain();  // takes tasks of the current batch until none is left

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  bool stopping_ = false;
  unsigned long generation_ = 0;  // bumped per batch so sleeping workers see new work
  const std::function<void(size_t)>* task_ = nullptr;
  size_t tasks_ = 0, next_ = 0, unfinished_ = 0;
};

// The default size: KILN_THREADS when it is a positive integer, otherwise the CPUs this process
// may run on (its affinity mask, which containers and taskset narrow).
int default_thread_count();

}  // namespace kiln
