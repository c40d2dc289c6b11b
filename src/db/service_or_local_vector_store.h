// ServiceOrLocalVectorStore: what the engine's searches call. While the
// dedicated vector service is on and healthy (DedicatedVectorDB), searches
// go to it; a request that runs into its timeout while the service stays
// healthy is retried (the service is catching up), for up to 5 minutes.
// When the service is off, unhealthy, or a request fails otherwise, the
// in-process store answers (the same indexes, loaded on demand), so a
// service that dies costs latency and memory, never an answer. Rows the
// service names that the caller's snapshot does not show (it may have seen
// a later write) are dropped.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "db/partitioned_vector_store.h"
#include "db/vector_store.h"
#include "service/vector_service_supervisor.h"

namespace nodespace {

class ServiceOrLocalVectorStore : public VectorStore {
 public:
  // `supervisor` returns the running supervisor or null (shared: a search
  // keeps it alive while the engine stops or restarts it); `log` reports
  // the first fallback after each success.
  using SupervisorFn = std::function<std::shared_ptr<service::VectorServiceSupervisor>()>;
  ServiceOrLocalVectorStore(PartitionedVectorStore& local, SupervisorFn supervisor,
                            std::function<void(const std::string&)> log)
      : local_(local), supervisor_(std::move(supervisor)), log_(std::move(log)) {}

  Result<VectorAnswer> Search(storage::Connection& conn, const VectorQuery& query) override;

  int64_t remote_searches() const { return remote_.load(); }
  int64_t fallbacks() const { return fallbacks_.load(); }

 private:
  PartitionedVectorStore& local_;
  SupervisorFn supervisor_;
  std::function<void(const std::string&)> log_;
  std::atomic<int64_t> remote_{0};
  std::atomic<int64_t> fallbacks_{0};
  std::atomic<bool> falling_back_{false};
};

}  // namespace nodespace
