#include "server/write_coalescer.h"

#include <chrono>
#include <vector>

namespace nodespace::server {

WriteCoalescer::WriteCoalescer(DatabaseHolder& db, size_t max_operations, CommitCallback on_commit)
    : db_(db),
      max_operations_(std::max<size_t>(1, max_operations)),
      on_commit_(std::move(on_commit)),
      writer_([this] { Run(); }) {}

WriteCoalescer::~WriteCoalescer() {
  Stop();
}

void WriteCoalescer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

CoalescedResult WriteCoalescer::Submit(WriteBatch::Op op, std::string origin) {
  Pending p{std::move(op), std::move(origin), {}, false};
  std::unique_lock lock(mu_);
  if (stopping_) {
    p.result.status = Status::Busy("the server is shutting down");
    return p.result;
  }
  queue_.push_back(&p);
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return p.done; });
  return std::move(p.result);
}

void WriteCoalescer::Run() {
  std::vector<Pending*> group;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      group.clear();
      while (!queue_.empty() && group.size() < max_operations_) {
        group.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    WriteBatch batch;
    for (Pending* p : group) batch.Add(std::move(p->op), p->origin);
    WriteOptions options;
    options.atomic = false;
    const auto started = std::chrono::steady_clock::now();
    Result<BatchResult> outcome = [&]() -> Result<BatchResult> {
      auto lease = db_.Acquire();
      if (!lease.valid()) return Status::Busy("the database is being restored");
      return lease->Write(batch, options);
    }();
    for (size_t i = 0; i < group.size(); ++i) {
      CoalescedResult& r = group[i]->result;
      if (!outcome.ok()) {
        r.status = outcome.status();
        continue;
      }
      if (i < outcome->results.size()) {
        const BatchResult::OpResult& op = outcome->results[i];
        r.status = op.status;
        r.node_id = op.node_id;
        r.version = op.version;
        r.affected = op.affected;
      }
      r.change_seq = outcome->last_change_seq;
    }
    if (outcome.ok() && on_commit_) {
      on_commit_(outcome->last_change_seq, group.size(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    {
      std::lock_guard lock(mu_);
      for (Pending* p : group) p->done = true;
    }
    done_cv_.notify_all();
  }
}

}  // namespace nodespace::server
