// RemoteVectorStore: the VectorStore whose searches a `nodespace
// vector-service` process answers (vector_service.h), over HTTP on loopback
// (docs/formats/vector-service.md).
//
// It holds no vectors. A search sends the caller's query with the last
// change of the caller's snapshot (`min_seq`); the service answers from a
// snapshot at least that new, so a write the caller can see is never missing
// from the answer (the answer may name rows the caller's snapshot does not
// have yet: callers skip those, as VectorStore says).
//
// Every failure to get an answer (no connection, a timeout, a service that
// died mid-request, any HTTP status but 200, an answer that does not parse)
// is kIOError with a message naming the service and the cause: the engine
// takes it as "use the in-process store". NodeSpace has no "unavailable"
// code; kIOError is the one that means "the transport failed".
//
// Thread safety: every method may be called from several threads. Each
// request uses its own HTTP connection from a small pool of keep-alive
// connections (guarded by mu_); SetPort retargets the pool.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "db/vector_store.h"
#include "nodespace/status.h"
#include "service/vector_service_protocol.h"
#include "storage/sqlite.h"

namespace httplib {
class Client;
}

namespace nodespace::service {

struct RemoteVectorStoreOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  // A service on loopback accepts at once or not at all: a short connect
  // timeout turns a dead one into a fallback quickly.
  int connect_timeout_ms = 200;
  // A search may wait for the service to load or catch up its index.
  int read_timeout_ms = 30000;
};

// GET /health.
struct VectorServiceHealth {
  int64_t pid = 0;
  int64_t applied_seq = 0;
};

class RemoteVectorStore : public VectorStore {
 public:
  explicit RemoteVectorStore(RemoteVectorStoreOptions options);
  ~RemoteVectorStore() override;
  RemoteVectorStore(const RemoteVectorStore&) = delete;
  RemoteVectorStore& operator=(const RemoteVectorStore&) = delete;

  // Reads the last change of `conn`'s snapshot (the caller's read
  // transaction) and asks the service to answer from one at least as new.
  Result<VectorAnswer> Search(storage::Connection& conn, const VectorQuery& query) override;
  // The same with the snapshot's change given; the reply also says which
  // change the service's snapshot had reached.
  Result<SearchReply> SearchAt(const VectorQuery& query, int64_t min_seq);
  Result<VectorServiceHealth> Health();
  // Gives the service a new memory budget (POST /settings), which it uses
  // from its next memory check on; 0: none.
  Status SetMemoryBudget(int64_t mb);

  // Sends later requests to `port` (a restarted service); requests in
  // flight finish against the old one.
  void SetPort(int port);
  int port() const;
  // "vector service at 127.0.0.1:PORT", how messages name it.
  std::string Describe() const;

 private:
  struct Lease;
  // A pooled client, or a new one when `fresh` or none is idle.
  Lease Take(bool fresh);
  void Give(Lease lease);
  // POST `body` to `path` (GET when null); the body of a 200 answer, else
  // kIOError.
  Result<std::string> Call(const std::string& path, const std::string* body);

  const RemoteVectorStoreOptions options_;
  mutable std::mutex mu_;
  int port_;                                            // guarded by mu_
  uint64_t generation_ = 0;                             // guarded by mu_; bumped by SetPort
  std::vector<std::unique_ptr<httplib::Client>> idle_;  // guarded by mu_; of generation_
};

}  // namespace nodespace::service
