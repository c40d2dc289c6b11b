// WriteCoalescer: group commit for single writes from many clients.
//
// Each request hands its operation over and waits; one writer thread takes
// every operation queued meanwhile (up to a bound) and commits them in one
// transaction (Database::Write, non-atomic: a failing operation is skipped
// and reported to its own caller alone). With synchronous=FULL a commit is
// an fsync, so 64 clients writing at once cost a few fsyncs, not 64. Each
// operation keeps its caller's origin in the change log (WriteBatch::Add).
//
// Thread safety: Submit() may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "nodespace/write_batch.h"
#include "server/database_holder.h"

namespace nodespace::server {

struct CoalescedResult {
  Status status;  // the operation's own outcome
  std::string node_id;
  int64_t version = 0;
  int64_t affected = 0;
  int64_t change_seq = 0;  // the log position after the commit that held it
};

class WriteCoalescer {
 public:
  // `on_commit(seq, operations, seconds)` runs after every commit (change
  // feeds wake; metrics record the group size and the commit's duration).
  using CommitCallback = std::function<void(int64_t seq, size_t operations, double seconds)>;
  WriteCoalescer(DatabaseHolder& db, size_t max_operations, CommitCallback on_commit);
  ~WriteCoalescer();  // Stop()

  CoalescedResult Submit(WriteBatch::Op op, std::string origin);
  // Commits what is queued and stops; later Submits fail with Unavailable.
  void Stop();

 private:
  struct Pending {
    WriteBatch::Op op;
    std::string origin;
    CoalescedResult result;
    bool done = false;
  };
  void Run();

  DatabaseHolder& db_;
  const size_t max_operations_;
  const CommitCallback on_commit_;
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<Pending*> queue_;  // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  std::thread writer_;
};

}  // namespace nodespace::server
