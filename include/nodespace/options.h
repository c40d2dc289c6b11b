// Options for opening a database.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "nodespace/partitions.h"
#include "nodespace/query.h"
#include "nodespace/scaling.h"

namespace nodespace {

// How hard a commit works to survive failures. See docs/ARCHITECTURE.md,
// "Durability".
enum class Durability : uint8_t {
  // WAL + synchronous=FULL: an acknowledged write survives a process crash and
  // power loss (the WAL is fsynced on every commit). The default.
  kFull,
  // WAL + synchronous=NORMAL: survives a process crash; the last commits before
  // a power loss or OS crash may be rolled back (never corrupted). Faster for
  // many small transactions.
  kNormal,
};

struct Options {
  // Create the database directory and schema when missing.
  bool create_if_missing = true;
  // Fail when the database already exists.
  bool error_if_exists = false;
  // Open for reading only (no schema migration, no writes).
  bool read_only = false;

  Durability durability = Durability::kFull;

  // How long a writer waits for another process's write lock before kBusy.
  int busy_timeout_ms = 10000;

  // Input limits; a write that exceeds them fails with kInvalidArgument.
  size_t max_content_bytes = 1 << 20;     // 1 MiB of markdown per node
  size_t max_properties_bytes = 1 << 20;  // 1 MiB of JSON per node
  size_t max_id_bytes = 256;

  // SQLite page cache per connection, in MiB.
  int page_cache_mib = 64;

  // Sibling order keys longer than this trigger a renumbering of the siblings
  // (one transaction). Keys grow only on repeated inserts at the same spot.
  size_t max_order_key_length = 48;

  // ---- queries ----
  // Keep the tree's shape in memory (each node's parent, type and lifecycle,
  // and the rows in preorder: about 56 bytes a node, built on the first
  // ranked query with a subtree filter) so that such queries list and test
  // subtrees without SQL. Off: SQLite walks the tree (recursive queries), and
  // nothing is held.
  bool hierarchy_index = true;
  // Keep full-text postings in memory (per term, the rows holding it with
  // their counts: about 8 bytes per distinct word of each node, built on the
  // first ranked word query) so that word queries (AND or OR of plain words)
  // find their best rows without scoring every match; scores are FTS5's
  // bm25(). Off: every search ranks inside FTS5, and nothing is held.
  bool text_index = true;

  // ---- vectors ----
  // Metric of a database's vectors, fixed by its first embedding:
  // "cosine", "dot" or "l2".
  std::string vector_metric = "cosine";
  // Up to this many vectors a search scores every one (exact and, at that
  // size, fastest); above it a query walks the HNSW graph. With automatic
  // scaling a new database keeps its vectors in an exact flat index until
  // the manager builds the graph (docs/SCALING.md, OptimizeIndexing).
  size_t exact_search_max_vectors = 10000;
  // HNSW graph parameters (see docs/formats/vector-index.md).
  uint32_t hnsw_m = 16;
  uint32_t hnsw_ef_construction = 200;
  uint32_t hnsw_ef_search = 128;  // recall@10 0.97 at 100K (docs/BENCHMARKS.md)
  // Rewrite the vector index file after this many applied changes (and when
  // the database closes 1,000 or more changes ahead of it). A crash in between
  // loses only index work: the next open catches up from the change log.
  size_t vector_index_save_every = 50000;
  // A vector index that is behind the change log catches up this many
  // changes per read transaction: a long catch-up (say after a large import)
  // must not hold one snapshot for minutes, which keeps SQLite from
  // checkpointing the WAL, so the WAL would grow for as long.
  size_t vector_catch_up_slice = 10000;

  // ---- queries ----
  QueryLimits query_limits;
  // Query result cache (Database::Query): byte-bounded LRU, entries expire
  // after the TTL and whenever the database changes. Adjustable at run time
  // (Database::ConfigureQueryCache). While scaling.enabled, the cost
  // optimizer's TTL (15 min, or 1 h when compute is costly) replaces
  // query_cache_ttl_ms at open and the memory tier bounds the entries.
  bool query_cache_enabled = true;
  size_t query_cache_bytes = 10 << 20;
  int64_t query_cache_ttl_ms = 60000;

  // ---- automatic scaling (include/nodespace/scaling.h) ----
  ScalingOptions scaling;
  // How EnablePartitioning splits and when partitions turn cold
  // (include/nodespace/partitions.h).
  PartitionOptions partitions;
  // The `nodespace` executable the engine starts as its vector service
  // (DedicatedVectorDB). Empty: `nodespace` beside the running program, then
  // $NODESPACE_BIN, then PATH.
  std::string vector_service_binary;

  // Where the engine reports what it did on its own (an index rebuilt, a
  // corrupt file replaced). Null: one line on stderr. Called from the
  // engine's threads (the scaling manager, index builds, writers), one call
  // at a time per database, so the callback needs no lock of its own; it
  // must not call back into the database.
  std::function<void(std::string_view)> info_log;
};

}  // namespace nodespace
