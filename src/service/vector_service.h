// RunVectorService: the process that answers a database's vector searches
// on behalf of the engine (`nodespace vector-service`, the "dedicated
// vector DB"). Protocol: docs/formats/vector-service.md.
//
// The service never writes to SQLite: it opens <db>/nodespace.db with its own
// read-only connections, one per request in flight, and its store catches up
// from the `changes` table like the engine's in-process one. The only files
// it writes are the port file and, through the store, the derived index
// (vectors.idx), saved when it shuts down cleanly.
//
// Thread safety: RunVectorService blocks its caller until the service stops;
// requests run on a pool of threads (options.threads) against one store,
// which must be safe to search from several threads (VectorIndexStore is).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "db/vector_store.h"
#include "nodespace/options.h"
#include "nodespace/status.h"

namespace nodespace::service {

using VectorStoreFactory =
    std::function<std::unique_ptr<VectorStore>(const std::string& db_dir, const Options&)>;

struct VectorServiceOptions {
  std::string db_dir;  // holds nodespace.db
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port
  // Where the port goes once the service listens (tmp file + rename, so a
  // reader never sees half a number). Removed again at a clean shutdown.
  // Empty: no file.
  std::string port_file;
  // Builds the store that answers searches; the Options it gets outlive the
  // store. Null: one VectorIndexStore over the whole database.
  VectorStoreFactory make_store;
  // Handed to make_store. The service's SQLite connections are read-only
  // whatever `read_only` says; true only keeps the store from saving its
  // index file. info_log also receives the service's own lines, one at a
  // time.
  Options options;
  // The service stops soon (within ~50 ms) after this becomes true. Null:
  // only parent_pid stops it.
  const std::atomic<bool>* stop = nullptr;
  // > 0: the service also stops once its parent is no longer this process,
  // so that an engine that dies without stopping it leaves no orphan behind.
  pid_t parent_pid = 0;
  // Called once the service accepts connections, with its port.
  std::function<void(int port)> on_listening;
  // Requests served at the same time. Each idle keep-alive connection of a
  // client holds one of them until it times out, so keep it above the
  // number of connections a client pools.
  int threads = 16;
  // How long a search waits for the service's snapshot to reach the caller's
  // (`min_seq`) before it answers 503.
  int min_seq_wait_ms = 1000;
  // > 0: when the process's resident memory is over this many MB, the store
  // releases what it can read again from its files (VectorStore::
  // ReleaseMemory), checked after each catch-up and at most every
  // kMemoryCheckEvery. The engine passes its MemoryManager tier's vector
  // cache.
  int64_t memory_budget_mb = 0;
};

// Serves until `options.stop` is set or the parent goes away, then stops
// accepting, lets requests in flight finish and destroys the store (which
// saves its index). Returns an error when the database cannot be opened or
// the address cannot be bound; OK after a clean stop.
Status RunVectorService(const VectorServiceOptions& options);

}  // namespace nodespace::service
