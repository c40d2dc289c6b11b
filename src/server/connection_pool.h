// ConnectionPool: the thread pool that serves HTTP connections.
//
// cpp-httplib hands each accepted connection to a task queue; its own pool
// has a fixed number of threads, so a few dozen slow or idle keep-alive
// clients (and every open change feed) would hold all of them and /livez
// would stop answering. This pool grows a thread per waiting connection up
// to `max_threads` (a blocked thread costs a stack's untouched pages, not
// CPU) and lets threads idle for 30 s go. Past the bound, connections wait
// in the queue.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

namespace nodespace::server {

class ConnectionPool : public httplib::TaskQueue {
 public:
  explicit ConnectionPool(size_t max_threads);
  ~ConnectionPool() override;

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;  // runs what is queued, then joins every thread

  size_t threads() const;
  size_t busy() const;

 private:
  void Work(std::list<std::thread>::iterator self);

  const size_t max_threads_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  std::list<std::thread> threads_;           // guarded by mu_
  std::vector<std::thread> finished_;        // guarded by mu_: to join
  size_t idle_ = 0;                          // guarded by mu_
  bool shutdown_ = false;                    // guarded by mu_
};

}  // namespace nodespace::server
