#include "db/service_or_local_vector_store.h"

namespace nodespace {

using storage::Connection;
using storage::ScopedStatement;
using storage::Statement;

Result<VectorAnswer> ServiceOrLocalVectorStore::Search(Connection& conn, const VectorQuery& query) {
  service::VectorServiceSupervisor* supervisor = supervisor_ ? supervisor_() : nullptr;
  service::RemoteVectorStore* remote = supervisor ? supervisor->client() : nullptr;
  if (remote == nullptr) {
    if (supervisor != nullptr) ++fallbacks_;
    return local_.Search(conn, query);
  }
  Result<VectorAnswer> answer = remote->Search(conn, query);
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
