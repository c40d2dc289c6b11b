#include "db/service_or_local_vector_store.h"

#include <chrono>

namespace nodespace {

using storage::Connection;
using storage::ScopedStatement;
using storage::Statement;

namespace {
// Timed-out searches retried while the service stays healthy (each waits
// RemoteVectorStoreOptions::read_timeout_ms, 30 s): up to 5 minutes.
constexpr int kBusyWaits = 10;
// A failure that took this long was a wait for an answer, not a refusal.
constexpr auto kBusyAfter = std::chrono::seconds(5);
}  // namespace

Result<VectorAnswer> ServiceOrLocalVectorStore::Search(Connection& conn, const VectorQuery& query) {
  const std::shared_ptr<service::VectorServiceSupervisor> supervisor =
      supervisor_ ? supervisor_() : nullptr;
  service::RemoteVectorStore* remote = supervisor ? supervisor->client() : nullptr;
  if (remote == nullptr) {
    if (supervisor) ++fallbacks_;
    return local_.Search(conn, query);
  }
  bool waited_out = false;
  auto attempt = [&]() {
    const auto start = std::chrono::steady_clock::now();
    Result<VectorAnswer> a = remote->Search(conn, query);
    waited_out = !a.ok() && std::chrono::steady_clock::now() - start >= kBusyAfter;
    return a;
  };
  Result<VectorAnswer> answer = attempt();
  // A request that ran into its timeout while the service still answers its
  // health checks found it busy (catching up after a bulk import), not
  // gone: wait for it rather than redo the same catch-up here, which would
  // take as long and hold a second copy of the indexes in this process.
  for (int waits = 0; waited_out && waits < kBusyWaits && supervisor->client() != nullptr;
       ++waits) {
    answer = attempt();
  }
  if (!answer.ok()) {
    ++fallbacks_;
    if (!falling_back_.exchange(true) && log_) {
      log_("vector service did not answer (" + answer.status().message() +
           "); searching in-process until it does");
    }
    return local_.Search(conn, query);
  }
  falling_back_.store(false);
  ++remote_;
  // The service's snapshot may be newer than the caller's: keep the rows
  // the caller can see, and say which process answered.
  NS_ASSIGN_OR_RETURN(Statement * stmt,
                      conn.Prepare("SELECT 1 FROM nodes WHERE rowid = ?1 AND lifecycle = 0"));
  std::vector<vector::Neighbor> kept;
  for (const vector::Neighbor& n : answer->result.neighbors) {
    ScopedStatement s(*stmt);
    s->Bind(1, n.label);
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (row) kept.push_back(n);
  }
  answer->result.neighbors = std::move(kept);
  answer->plan = "service: " + answer->plan;
  return answer;
}

}  // namespace nodespace
