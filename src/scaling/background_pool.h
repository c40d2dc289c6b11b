// BackgroundPool: the worker threads that run scaling actions, as many as the
// MemoryConfig tier's `background_tasks`.
//
// Resize() takes effect at once: new threads start, surplus threads exit once
// their current task is done. Tasks queue in submission order.
//
// Thread safety: every method may be called from any thread, except that the
// destructor must not run while another thread calls Submit.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace nodespace::scaling {

class BackgroundPool {
 public:
  explicit BackgroundPool(size_t threads);
  ~BackgroundPool();  // finishes queued tasks, then joins
  BackgroundPool(const BackgroundPool&) = delete;
  BackgroundPool& operator=(const BackgroundPool&) = delete;

  void Resize(size_t threads);
  size_t target_threads() const;
  // Threads alive now (trails target_threads() while surplus ones finish).
  size_t live_threads() const;

  std::future<void> Submit(std::function<void()> task);

 private:
  void WorkerLoop();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<void()>> queue_;  // guarded by mu_
  size_t target_ = 0;                             // guarded by mu_
  size_t live_ = 0;                               // guarded by mu_
  bool stopping_ = false;                         // guarded by mu_
  std::vector<std::thread> threads_;              // guarded by mu_; finished ones are joined lazily
};

}  // namespace nodespace::scaling
