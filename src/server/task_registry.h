// TaskRegistry: long operations (import, backup, restore, reindex) run on
// their own thread; the request that started one gets 202 and a task id,
// GET /v1/tasks/{id} reports progress and outcome.
//
// Finished tasks are kept (the last 256) so a client can read the outcome
// late. Thread safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "nodespace/status.h"

namespace nodespace::server {

// What a running task reports about itself.
class TaskProgress {
 public:
  void Set(nlohmann::json progress);
  nlohmann::json Get() const;

 private:
  mutable std::mutex mu_;
  nlohmann::json progress_ = nlohmann::json::object();  // guarded by mu_
};

struct TaskSnapshot {
  std::string id;
  std::string kind;   // "import", "backup", "restore", "reindex"
  std::string state;  // "running", "succeeded", "failed"
  nlohmann::json progress;
  nlohmann::json result;  // when succeeded
  nlohmann::json error;   // when failed: {code, message}
  int64_t created_ms = 0;
  int64_t finished_ms = 0;
  std::string owner_key;  // the API key that started it
  nlohmann::json ToJson() const;
};

class TaskRegistry {
 public:
  using Body = std::function<Result<nlohmann::json>(TaskProgress& progress)>;

  TaskRegistry() = default;
  ~TaskRegistry();  // waits for running tasks

  // Starts `body` on a new thread; returns the task id at once.
  std::string Start(std::string kind, std::string owner_key, Body body);
  std::optional<TaskSnapshot> Get(const std::string& id) const;
  std::vector<TaskSnapshot> List() const;
  // Blocks until every task finished (shutdown).
  void WaitAll();

 private:
  struct Task {
    TaskSnapshot info;  // state/result/error guarded by mu_
    TaskProgress progress;
    std::thread thread;
  };
  mutable std::mutex mu_;
  std::condition_variable done_cv_;
  std::map<std::string, std::unique_ptr<Task>> tasks_;  // guarded by mu_
  std::vector<std::string> finished_order_;             // guarded by mu_
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace nodespace::server
