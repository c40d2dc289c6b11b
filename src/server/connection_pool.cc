#include "server/connection_pool.h"

namespace nodespace::server {

ConnectionPool::ConnectionPool(size_t max_threads)
    : max_threads_(std::max<size_t>(2, max_threads)) {}

ConnectionPool::~ConnectionPool() {
  shutdown();
}

void ConnectionPool::enqueue(std::function<void()> fn) {
  std::vector<std::thread> to_join;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(fn));
    to_join.swap(finished_);
    if (idle_ < queue_.size() && threads_.size() < max_threads_ && !shutdown_) {
      threads_.emplace_back();
      auto self = std::prev(threads_.end());
      *self = std::thread([this, self] { Work(self); });
    }
  }
  cv_.notify_one();
  for (std::thread& t : to_join) t.join();
}

void ConnectionPool::Work(std::list<std::thread>::iterator self) {
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_;
    const bool woke =
        cv_.wait_for(lock, std::chrono::seconds(30), [&] { return shutdown_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty() && (shutdown_ || !woke)) break;
    if (queue_.empty()) continue;
    std::function<void()> fn = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    fn();
    lock.lock();
  }
  // Hand our own std::thread to be joined by someone else.
  finished_.push_back(std::move(*self));
  threads_.erase(self);
  cv_.notify_all();
}

void ConnectionPool::shutdown() {
  std::unique_lock lock(mu_);
  shutdown_ = true;
  cv_.notify_all();
  cv_.wait(lock, [&] { return threads_.empty(); });
  std::vector<std::thread> to_join;
  to_join.swap(finished_);
  lock.unlock();
  for (std::thread& t : to_join) t.join();
}

size_t ConnectionPool::threads() const {
  std::lock_guard lock(mu_);
  return threads_.size();
}

size_t ConnectionPool::busy() const {
  std::lock_guard lock(mu_);
  return threads_.size() - idle_;
}

}  // namespace nodespace::server
