#include "scaling/background_pool.h"

namespace nodespace::scaling {

BackgroundPool::BackgroundPool(size_t threads) {
  Resize(threads);
}

BackgroundPool::~BackgroundPool() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (std::thread& t : threads) t.join();
}

void BackgroundPool::Resize(size_t threads) {
  if (threads == 0) threads = 1;
  std::lock_guard lock(mu_);
  target_ = threads;
  while (live_ < target_) {
    ++live_;
    threads_.emplace_back([this] { WorkerLoop(); });
  }
  cv_.notify_all();  // surplus workers notice and leave
}

size_t BackgroundPool::target_threads() const {
  std::lock_guard lock(mu_);
  return target_;
}

size_t BackgroundPool::live_threads() const {
  std::lock_guard lock(mu_);
  return live_;
}

std::future<void> BackgroundPool::Submit(std::function<void()> task) {
  std::packaged_task<void()> packaged(std::move(task));
  std::future<void> done = packaged.get_future();
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(packaged));
  }
  cv_.notify_one();
  return done;
}

void BackgroundPool::WorkerLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty() || live_ > target_; });
    if (!queue_.empty() && live_ <= target_) {
      std::packaged_task<void()> task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      task();
      lock.lock();
      continue;
    }
    if (stopping_ && queue_.empty()) break;
    if (live_ > target_) break;
  }
  --live_;
  // The thread object stays in threads_ until the destructor joins it; a
  // surplus worker that exits early is joined then (cheap: it has finished).
  cv_.notify_all();
}

}  // namespace nodespace::scaling
