#include "server/change_notifier.h"

namespace nodespace::server {

ChangeNotifier::ChangeNotifier(std::function<int64_t()> read_seq, int poll_ms)
    : read_seq_(std::move(read_seq)) {
  seq_ = read_seq_();
  watcher_ = std::thread([this, poll_ms] {
    std::unique_lock lock(mu_);
    while (!stopped_) {
      cv_.wait_for(lock, std::chrono::milliseconds(poll_ms));
      if (stopped_) break;
      lock.unlock();
      const int64_t seq = read_seq_();
      lock.lock();
      // A restore may move the log backwards: followers see the new end.
      if (seq != seq_) {
        seq_ = seq;
        cv_.notify_all();
      }
    }
  });
}

ChangeNotifier::~ChangeNotifier() {
  Stop();
  if (watcher_.joinable()) watcher_.join();
}

void ChangeNotifier::Publish(int64_t seq) {
  {
    std::lock_guard lock(mu_);
    if (seq <= seq_) return;
    seq_ = seq;
    published_at_ = std::chrono::steady_clock::now();
  }
  cv_.notify_all();
}

int64_t ChangeNotifier::last_seq() const {
  std::lock_guard lock(mu_);
  return seq_;
}

int64_t ChangeNotifier::WaitAfter(int64_t seq, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return stopped_ || seq_ != seq; });
  return seq_;
}

double ChangeNotifier::SecondsSincePublish() const {
  std::lock_guard lock(mu_);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - published_at_).count();
}

void ChangeNotifier::Stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

bool ChangeNotifier::stopped() const {
  std::lock_guard lock(mu_);
  return stopped_;
}

}  // namespace nodespace::server
