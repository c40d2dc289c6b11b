// Server: one database served over HTTP to many users (`nodespace serve`).
//
//   nodespace::ServerOptions o;
//   o.database_path = "notes-data";
//   auto server = nodespace::Server::Start(o).value();   // listening now
//   std::cout << server->url() << "\n";
//   server->Wait();                                        // until Shutdown()
//
// The API is versioned JSON under /v1 (docs/API.md, src/server/openapi.json),
// with a Server-Sent Events change feed, live queries, an MCP (JSON-RPC)
// endpoint, Prometheus /metrics and /livez, /readyz.
//
// Thread safety: Shutdown() may be called from any thread (a signal handler
// thread included); the other methods from the thread that owns the Server.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "nodespace/options.h"
#include "nodespace/status.h"

namespace nodespace {

struct ServerOptions {
  std::string database_path = "nodespace-data";
  Options database;  // how the database is opened

  // Where to listen. Without any API key configured the server refuses any
  // host but a loopback one: an open database must not reach the network.
  std::string host = "127.0.0.1";
  int port = 7700;  // 0: any free port (see Server::port())

  // API keys live in <database>/api-keys.json (`nodespace keys ...`). With
  // require_keys false and no key configured, every request acts as admin;
  // that is allowed on loopback only.
  bool require_keys = false;

  // ---- limits ----
  size_t max_body_bytes = 16 << 20;           // larger bodies: 413 before reading them
  size_t max_import_bytes = size_t{4} << 30;  // NDJSON upload, streamed to disk
  size_t max_batch_operations = 1000;         // POST /v1/nodes/batch
  double rate_limit_per_second = 200;         // per API key (or client address), token bucket
  double rate_limit_burst = 400;
  // Queries running longer are stopped: 422 with code "query_timeout"
  // (sets database.query_limits.max_query_ms when that is 0).
  int query_timeout_ms = 10000;
  size_t max_connections = 2048;  // beyond: new connections wait to be accepted
  int read_timeout_s = 30;        // a client silent this long is disconnected
  int idle_keep_alive_s = 5;

  // Group commit: single writes that arrive together share one transaction
  // (one fsync). Up to this many operations per commit.
  size_t group_commit_max_operations = 256;

  // Backups and restores only inside this directory (created on demand).
  // Empty: <database>/../<database name>-backups.
  std::string backup_dir;

  // Access log: one JSON line per request. Empty: stderr. "-": stdout.
  std::string access_log;
  bool access_log_enabled = true;

  // Called with each line the server logs about itself (startup, shutdown,
  // warnings). Null: stderr. Called from the request workers one call at a
  // time (the database's own info_log, in `database`, is serialized apart).
  std::function<void(std::string_view)> info_log;
};

class Server {
 public:
  // Opens the database and starts listening; returns once requests are
  // accepted. InvalidArgument for a non-loopback host without API keys,
  // IOError when the port is taken.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options);

  ~Server();  // Shutdown() and Wait()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;
  std::string url() const;  // "http://127.0.0.1:7700"

  // Graceful stop: stop accepting, let requests in flight finish (change
  // feeds are told to close), flush and close the database. Idempotent.
  void Shutdown();
  // Blocks until the server has stopped.
  void Wait();

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nodespace
