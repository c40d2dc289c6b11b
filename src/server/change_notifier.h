// ChangeNotifier: wakes change feeds and live queries when the change log
// grows.
//
// Writes through this server call Publish() right after their commit, so a
// subscriber wakes within microseconds; a watcher thread also polls the log
// every `poll_ms` for writes by other processes (the CLI, a second server).
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace nodespace::server {

class ChangeNotifier {
 public:
  // `read_seq` returns the log's current last sequence (for the watcher).
  ChangeNotifier(std::function<int64_t()> read_seq, int poll_ms);
  ~ChangeNotifier();  // Stop()

  void Publish(int64_t seq);
  int64_t last_seq() const;
  // Seconds since the last Publish() that moved the sequence (the
  // commit-to-event latency a feed reports when it writes).
  double SecondsSincePublish() const;
  // Waits until the log passes `seq`, the timeout passes or Stop(); returns
  // the last sequence known then.
  int64_t WaitAfter(int64_t seq, std::chrono::milliseconds timeout) const;
  // Ends every wait at once; later waits return immediately.
  void Stop();
  bool stopped() const;

 private:
  const std::function<int64_t()> read_seq_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  int64_t seq_ = 0;                                     // guarded by mu_
  std::chrono::steady_clock::time_point published_at_;  // guarded by mu_
  bool stopped_ = false;                                // guarded by mu_
  std::thread watcher_;
};

}  // namespace nodespace::server
