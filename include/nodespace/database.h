// Database: one NodeSpace knowledge base in one directory.
//
//   auto db = nodespace::Database::Open("notes-data").value();
//   auto node = db->Create({.content = "# Ideas"}).value();
//
// Thread safety: a Database may be shared by many threads. Reads run
// concurrently (each thread gets its own SQLite connection); writes are
// serialised. Several processes may open the same directory: SQLite's WAL
// locking makes them safe, writers wait up to Options::busy_timeout_ms.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nodespace/backup.h"
#include "nodespace/change.h"
#include "nodespace/node.h"
#include "nodespace/options.h"
#include "nodespace/partitions.h"
#include "nodespace/query.h"
#include "nodespace/scaling.h"
#include "nodespace/search.h"
#include "nodespace/status.h"
#include "nodespace/write_batch.h"

namespace nodespace {

struct ListOptions {
  bool include_archived = false;  // archived and trashed (deleted) nodes
  size_t limit = 0;               // 0: no limit
  // Pagination: only the siblings after this one (the last of the previous
  // page). InvalidArgument when it is not a sibling in the list.
  std::string after_id;
};

struct SubtreeOptions {
  int max_depth = -1;  // -1: unlimited; 0: the root only; 1: root and children
  bool include_archived = false;
};

// Called once per node of a subtree, in depth-first pre-order (a node before
// its children, siblings in order). `depth` is 0 for the subtree's root.
// Return false to stop early.
using SubtreeVisitor = std::function<bool(const Node& node, int depth)>;

// What fitting or running the built-in embedder did.
struct EmbedReport {
  std::string model;          // e.g. "lsa-v1:256:<fingerprint>"
  int64_t embedded = 0;       // nodes given a vector
  int64_t without_terms = 0;  // nodes whose text has no word the model knows
  double fit_seconds = 0;
};

// An embedding server that speaks the OpenAI-compatible POST /v1/embeddings
// protocol (Ollama, llama.cpp server, vLLM, ...).
struct ExternalEmbedderOptions {
  std::string base_url;  // "http://127.0.0.1:11434"; /v1/embeddings is appended
  std::string model;     // e.g. "nomic-embed-text"
  int dims = 0;          // expected vector length; 0: take the server's
  std::string api_key;   // sent as a Bearer token; not stored in the database
  size_t batch_size = 64;
  int timeout_ms = 30000;
  int max_attempts = 3;  // per request, with exponential backoff
};

struct DatabaseStats {
  int64_t node_count = 0;
  int64_t root_count = 0;
  int64_t edge_count = 0;         // has_child links plus stored edges
  int64_t stored_edge_count = 0;  // mentions, member_of, user edges
  int64_t change_seq = 0;
  int64_t storage_bytes = 0;  // every file in the database directory
  int64_t embedding_count = 0;
  int schema_version = 0;
};

class Database {
 public:
  // Opens (or creates) the database in directory `path`.
  static Result<std::unique_ptr<Database>> Open(const std::string& path,
                                                const Options& options = {});

  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& path() const;
  const Options& options() const;

  // ---- Reads ---------------------------------------------------------------
  // NotFound when no node has this id.
  Result<Node> Get(const std::string& id) const;
  // Children of `parent_id` in sibling order.
  Result<std::vector<Node>> Children(const std::string& parent_id,
                                     const ListOptions& options = {}) const;
  Result<std::vector<Node>> Roots(const ListOptions& options = {}) const;
  // How many children `parent_id` has ("": how many roots).
  Result<int64_t> CountChildren(const std::string& parent_id, bool include_archived = false) const;
  // Streams the subtree rooted at `id`; memory does not grow with its size.
  Status VisitSubtree(const std::string& id, const SubtreeOptions& options,
                      const SubtreeVisitor& visitor) const;
  // From the root down to the node's parent (empty for a root).
  Result<std::vector<Node>> Ancestors(const std::string& id) const;
  // Nodes whose content mentions `id`, ordered by id.
  Result<std::vector<Node>> Backlinks(const std::string& id) const;
  // Stored edges leaving (`outgoing`) or arriving at a node, optionally of one type.
  Result<std::vector<Edge>> Edges(const std::string& id, bool outgoing,
                                  const std::string& type = "") const;
  // Collection paths ("a:b:c") a node is a member of, sorted.
  Result<std::vector<std::string>> CollectionsOf(const std::string& id) const;
  // Direct members of the collection at `path`.
  Result<std::vector<Node>> CollectionMembers(const std::string& path) const;

  // ---- Search ---------------------------------------------------------------
  // BM25 full-text search; see search.h for the query syntax. InvalidArgument
  // for a query with nothing to search for or too many terms.
  Result<TextSearchResult> SearchText(const TextSearchOptions& options) const;
  // k nearest nodes to a vector (or to text, through the database's
  // embedder), optionally filtered. The vector index catches up with every
  // committed write first, so results never miss an acknowledged write.
  // InvalidArgument for a vector of the wrong dimension.
  Result<VectorSearchResult> SearchVector(const VectorSearchOptions& options) const;

  // ---- Queries (query.h) ------------------------------------------------------
  // Runs a query: ranking, filters, sort, pagination, facets, aggregations.
  // InvalidArgument names the offending part ("filters[2].op: ..."); a
  // cursor from another query is refused. Results come from the query cache
  // when an identical query ran at the same change sequence within the TTL.
  Result<QueryResult> RunQuery(const Query& query) const;
  // The same, from the JSON form (docs/API.md, "Query JSON").
  Result<QueryResult> RunQueryJson(const std::string& json) const;
  QueryCacheStats QueryCacheStatistics() const;
  // Enables, disables or resizes the query cache at run time; shrinking
  // evicts at once.
  void ConfigureQueryCache(bool enabled, size_t capacity_bytes, int64_t ttl_ms);
  // Fields queries filtered and sorted on since the database was opened,
  // most used first.
  std::vector<FieldUsage> QueryFieldUsage() const;

  // ---- Built-in embedder ------------------------------------------------------
  // Fits the offline LSA embedder (TF-IDF + truncated SVD) on the database's
  // own text, stores it beside the database and gives every active node a
  // vector, so VectorSearchOptions::text works with no model download.
  // `dims` 0: the stored vectors' dimension, or 256 when there are none.
  // Calling it again refits on the current text at the stored dimension;
  // asking for another one is refused (every vector index is built for it).
  // Refused when the database holds vectors supplied by callers.
  Result<EmbedReport> FitBuiltinEmbedder(int dims = 0);
  // Gives nodes created or edited since (and still without a vector) one from
  // the fitted embedder. Does nothing when none is fitted.
  Result<EmbedReport> EmbedPending();
  // Makes an external embedding server the database's embedder: its URL,
  // model and dims are recorded in the database (the API key is not; pass it
  // again after reopening), and every active node without a vector is sent
  // to it. A node the server fails to embed keeps no vector and stays
  // pending: EmbedPending() retries it, so a failure never loses work. The
  // error of the failed request is returned after the nodes that succeeded
  // were stored.
  Result<EmbedReport> UseExternalEmbedder(const ExternalEmbedderOptions& options);
  // Vectors for `texts` from the database's embedder (the one its vectors
  // came from), in order; an empty vector where the embedder cannot
  // represent a text (no known word). InvalidArgument when the database has
  // no embedder. `model` receives the embedder's name.
  Result<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts,
                                                std::string* model = nullptr) const;

  // ---- Writes --------------------------------------------------------------
  Result<Node> Create(const NewNode& node, const WriteOptions& options = {});
  Result<Node> Update(const std::string& id, const NodePatch& patch,
                      int64_t expected_version = kAnyVersion, const WriteOptions& options = {});
  // Moves a node (and its subtree) under `new_parent_id` (empty: to the roots).
  // Rejects moves that would make a node its own ancestor.
  Result<Node> Move(const std::string& id, const std::string& new_parent_id,
                    const Position& position, int64_t expected_version = kAnyVersion,
                    const WriteOptions& options = {});
  // Removes the node and its whole subtree in one transaction; returns the
  // number of nodes removed.
  Result<int64_t> Delete(const std::string& id, int64_t expected_version = kAnyVersion,
                         const WriteOptions& options = {});
  // Sets the lifecycle of a node and its whole subtree (archive, trash,
  // restore); returns the number of nodes changed.
  Result<int64_t> SetLifecycle(const std::string& id, Lifecycle lifecycle,
                               int64_t expected_version = kAnyVersion,
                               const WriteOptions& options = {});
  Status AddEdge(const Edge& edge, const WriteOptions& options = {});
  Status RemoveEdge(const std::string& from_id, const std::string& to_id, const std::string& type,
                    const WriteOptions& options = {});
  // Makes the node a member of the collection at `path` ("a:b:c"), creating
  // the collection nodes of the path that do not exist yet.
  Status AddToCollection(const std::string& id, const std::string& path,
                         const WriteOptions& options = {});
  Status RemoveFromCollection(const std::string& id, const std::string& path,
                              const WriteOptions& options = {});
  // Applies all operations in one transaction (see WriteOptions::atomic).
  Result<BatchResult> Write(const WriteBatch& batch, const WriteOptions& options = {});

  // ---- Change log, statistics, checks ---------------------------------------
  int64_t LastChangeSeq() const;
  // Up to `limit` changes with seq > `after_seq`, in order.
  Result<std::vector<Change>> ChangesSince(int64_t after_seq, size_t limit = 1000) const;
  Result<DatabaseStats> Stats() const;
  // Nodes stored, in every lifecycle state (one index count; Stats does more).
  Result<int64_t> NodeCount() const;
  // SQLite's integrity check, the change log has no gaps, and the tree
  // invariants hold (every parent exists). Returns Corruption with details.
  Status CheckIntegrity() const;
  // Merges the full-text index into one segment (FTS5 'optimize'): a bulk
  // import leaves it in many, which every query then searches. About 4 s per
  // million nodes; `nodespace import` runs it after large imports.
  Status OptimizeTextIndex();

  // ---- bulk loading (src/db/database_bulk_load.cc) ----
  // For imports that bring more rows than the database holds: from here on
  // writes skip the full-text index and the non-unique secondary indexes
  // (dates, partitions, backlinks, hot property indexes; not types), which
  // FinishBulkLoad then builds in one pass, the full-text index merged into
  // one segment. The full-text index is built on a thread of its own as the
  // load's transactions commit, and creates take what the load itself wrote
  // (ids, parents, last sibling keys) from memory instead of the table's
  // indexes. A load that begins on an empty database defers the sibling
  // order index too, until its end or the first write that reads children
  // (a create placed other than last, an update, move or delete), which
  // builds it first. Meanwhile text search does not see nodes written since,
  // and filters those indexes served (and, with the sibling order index
  // deferred, reads of children and subtrees) scan the table; every other
  // read and write stays correct. Durable: a process
  // that dies before FinishBulkLoad leaves it for the next writable open,
  // which finishes it before returning. Calling it while one is pending
  // changes nothing.
  Status BeginBulkLoad();
  // Builds what BeginBulkLoad deferred: the secondary indexes in one
  // transaction (while the full-text thread reads the last rows and merges
  // its segments), then the
  // full-text index in another; a process that dies between the two leaves
  // the rest to the next writable open, as above. Returns whether a bulk
  // load was pending.
  Result<bool> FinishBulkLoad();
  Result<bool> BulkLoadPending() const;

  // ---- backup and restore (src/db/database_backup.cc) ----
  // Writes a consistent copy of the database into `dest_dir` (created; must
  // not exist or be empty) while readers and writers go on.
  Result<BackupReport> Backup(const std::string& dest_dir) const;
  // Replaces the database in `dest_dir` with the backup in `backup_dir`
  // after checking the backup. The database must not be open. Without
  // `overwrite`, an existing database in dest_dir is an error.
  static Result<BackupReport> Restore(const std::string& backup_dir, const std::string& dest_dir,
                                      bool overwrite);
  // Counts and checksums of the data (see DatabaseFingerprint).
  Result<DatabaseFingerprint> Fingerprint() const;

  // ---- automatic scaling (include/nodespace/scaling.h) ----
  // A fresh sample of every metric.
  Result<ScalingMetrics> CollectScalingMetrics() const;
  // Phase, metrics against thresholds, and what triggers next.
  Result<ScalingStatus> GetScalingStatus() const;
  // The most recent `limit` scaling events, newest first.
  Result<std::vector<ScalingEvent>> ScalingHistory(size_t limit = 100) const;
  // The most recent `limit` metric samples this process took (the manager's
  // and every CollectScalingMetrics/GetScalingStatus), oldest first: the
  // series a dashboard charts. Kept in memory only
  // (ScalingOptions::sample_history).
  std::vector<ScalingMetrics> RecentScalingSamples(size_t limit = 720) const;
  // Samples and checks every trigger now (what the background manager does
  // each interval); returns the events it recorded.
  Result<std::vector<ScalingEvent>> RunScalingCheck();
  // Applies one action now, as an operator asked (`dry_run`: report what
  // it would do, change nothing). The event is recorded either way.
  Result<ScalingEvent> ApplyScalingAction(OptimizationAction action, bool dry_run = false);
  // Migrates to `target` following the strategy's sequence (backup, migrate,
  // validate, update config); rolls back by itself when validation fails.
  Result<ScalingEvent> MigratePhase(ScalingPhase target);

  // ---- partitions and tiers (include/nodespace/partitions.h) ----
  // Layout, sizes, tiers and what each partition holds in memory.
  Result<PartitioningStatus> GetPartitioningStatus() const;
  // Compacts partition `id`'s vector index on its own (drops every
  // tombstone). Returns the slots reclaimed. NotFound for an unknown id;
  // NotSupported when the database is not partitioned.
  Result<int64_t> CompactPartition(int64_t id);

  class Impl;

 private:
  explicit Database(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Current schema version of databases written by this build.
int CurrentSchemaVersion();

}  // namespace nodespace
