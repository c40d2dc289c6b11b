// ServerState: what every route handler shares (src/server/routes_*.cc).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "nodespace/server.h"
#include "server/api_keys.h"
#include "server/change_notifier.h"
#include "server/connection_pool.h"
#include "server/database_holder.h"
#include "server/rate_limiter.h"
#include "server/route.h"
#include "server/server_metrics.h"
#include "server/task_registry.h"
#include "server/write_coalescer.h"

namespace nodespace::server {

struct ServerState {
  ServerState(const ServerOptions& options, std::unique_ptr<Database> db);

  const ServerOptions options;
  DatabaseHolder db;
  ApiKeyStore keys;
  ServerMetrics metrics;
  RateLimiter limiter;
  ChangeNotifier notifier;
  WriteCoalescer writes;
  TaskRegistry tasks;
  std::string backup_dir;      // resolved ServerOptions::backup_dir
  std::string spool_dir;       // uploads waiting for their import task
  bool keys_required = false;  // decided at start; `keys` may still change
  std::atomic<bool> draining{false};
  std::atomic<ConnectionPool*> pool{nullptr};  // set when listening starts

  // The database for a request handler; 503 while a restore has it closed.
  DatabaseHolder::Lease Db() const;
};

// ---- scope checks (subtree-scoped keys) ----
// Throws 403 when `node_id` lies outside the principal's scopes (404 when
// the node does not exist). Unscoped principals pass.
void RequireInScope(const Call& call, Database& db, const std::string& node_id);
// A query parsed from `json`, confined to the caller's scopes.
Query ScopedQuery(const ServerState& state, const Call& call, const std::string& json);
// The filter that confines a query to the principal's scopes (Or of Under).
Filter ScopeFilter(const Principal& principal);

// ---- the route groups ----
void AddNodeRoutes(ServerState& state, std::vector<Route>* routes);
void AddQueryRoutes(ServerState& state, std::vector<Route>* routes);
void AddFeedRoutes(ServerState& state, std::vector<Route>* routes);
void AddAdminRoutes(ServerState& state, std::vector<Route>* routes);
void AddOpsRoutes(ServerState& state, std::vector<Route>* routes);
void AddWebRoutes(ServerState& state, std::vector<Route>* routes);

// The whole table, in the order the router tries it.
std::vector<Route> BuildRoutes(ServerState& state);

// ---- helpers shared by route groups ----
// The If-Match header as a version (kAnyVersion when absent); 400 when it
// is not a version.
int64_t IfMatchVersion(const Call& call);
// Runs one write through group commit; throws the operation's error.
CoalescedResult SubmitWrite(ServerState& state, Call& call, WriteBatch::Op op);
// The node as the API shows it (no embedding unless asked).
nlohmann::json NodeJson(const Node& node, const Call& call);

}  // namespace nodespace::server
