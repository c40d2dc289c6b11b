#include "server/task_registry.h"

#include <condition_variable>

#include "model/ids.h"

namespace nodespace::server {

void TaskProgress::Set(nlohmann::json progress) {
  std::lock_guard lock(mu_);
  progress_ = std::move(progress);
}

nlohmann::json TaskProgress::Get() const {
  std::lock_guard lock(mu_);
  return progress_;
}

nlohmann::json TaskSnapshot::ToJson() const {
  nlohmann::json j = {{"id", id},
                      {"kind", kind},
                      {"state", state},
                      {"progress", progress},
                      {"created_at", ids::FormatTimestamp(created_ms)}};
  if (finished_ms != 0) j["finished_at"] = ids::FormatTimestamp(finished_ms);
  if (state == "succeeded") j["result"] = result;
  if (state == "failed") j["error"] = error;
  return j;
}

TaskRegistry::~TaskRegistry() {
  std::map<std::string, std::unique_ptr<Task>> tasks;
  {
    std::lock_guard lock(mu_);
    tasks.swap(tasks_);
  }
  for (auto& [id, task] : tasks) {
    if (task->thread.joinable()) task->thread.join();
  }
}

std::string TaskRegistry::Start(std::string kind, std::string owner_key, Body body) {
  // Sequence plus a clock suffix: ids of a restarted server do not repeat
  // the ones its clients may still poll.
  std::string id = "t";
  id += std::to_string(next_id_.fetch_add(1));
  id += '-';
  id += std::to_string(ids::NowMs() % 1000000);
  std::lock_guard lock(mu_);
  auto task = std::make_unique<Task>();
  Task* t = task.get();
  t->info.id = id;
  t->info.kind = std::move(kind);
  t->info.state = "running";
  t->info.created_ms = ids::NowMs();
  t->info.owner_key = std::move(owner_key);
  tasks_[id] = std::move(task);
  t->thread = std::thread([this, t, body = std::move(body)] {
    Result<nlohmann::json> outcome = body(t->progress);
    std::lock_guard inner(mu_);
    t->info.finished_ms = ids::NowMs();
    if (outcome.ok()) {
      t->info.state = "succeeded";
      t->info.result = std::move(*outcome);
    } else {
      t->info.state = "failed";
      t->info.error = {{"code", StatusCodeName(outcome.status().code())},
                       {"message", outcome.status().message()}};
    }
    finished_order_.push_back(t->info.id);
    // Forget the oldest finished tasks; their threads have ended.
    while (finished_order_.size() > 256) {
      auto it = tasks_.find(finished_order_.front());
      finished_order_.erase(finished_order_.begin());
      if (it == tasks_.end() || it->second.get() == t) continue;
      if (it->second->thread.joinable()) it->second->thread.detach();
      tasks_.erase(it);
    }
    done_cv_.notify_all();
  });
  return id;
}

std::optional<TaskSnapshot> TaskRegistry::Get(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return std::nullopt;
  TaskSnapshot s = it->second->info;
  s.progress = it->second->progress.Get();
  return s;
}

std::vector<TaskSnapshot> TaskRegistry::List() const {
  std::vector<TaskSnapshot> out;
  std::lock_guard lock(mu_);
  for (const auto& [id, task] : tasks_) {
    out.push_back(task->info);
    out.back().progress = task->progress.Get();
  }
  return out;
}

void TaskRegistry::WaitAll() {
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] {
    for (const auto& [id, task] : tasks_) {
      if (task->info.state == "running") return false;
    }
    return true;
  });
}

}  // namespace nodespace::server
