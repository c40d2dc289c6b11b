// Database::Impl: connections, the write path and the read path.
//
// Thread safety: one writer connection guarded by write_mu_; reader
// connections come from a pool, one per concurrent reader. SQLite WAL gives
// readers a consistent snapshot without waiting for the writer.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "db/bulk_load_memo.h"
#include "db/bulk_text_build.h"
#include "db/partitioned_vector_store.h"
#include "db/pending_changes.h"
#include "db/service_or_local_vector_store.h"
#include "embed/lsa_embedder.h"
#include "index/text/text_index.h"
#include "model/ids.h"
#include "model/schema.h"
#include "nodespace/database.h"
#include "query/hierarchy_index.h"
#include "query/query_cache.h"
#include "query/statistics.h"
#include "storage/sqlite.h"

namespace nodespace {

class Database::Impl {
 public:
  Impl(std::string path, Options options);
  ~Impl();

  Status Open();

  const std::string& path() const { return path_; }
  const Options& options() const { return options_; }

  // ---- reads (database_read.cc) ----
  Result<Node> Get(const std::string& id);
  Result<std::vector<Node>> Children(const std::string& parent_id, const ListOptions& options);
  Result<std::vector<Node>> Roots(const ListOptions& options);
  Result<int64_t> CountChildren(const std::string& parent_id, bool include_archived);
  Status VisitSubtree(const std::string& id, const SubtreeOptions& options,
                      const SubtreeVisitor& visitor);
  Result<std::vector<Node>> Ancestors(const std::string& id);
  Result<std::vector<Node>> Backlinks(const std::string& id);
  Result<std::vector<Edge>> Edges(const std::string& id, bool outgoing, const std::string& type);
  Result<std::vector<std::string>> CollectionsOf(const std::string& id);
  Result<std::vector<Node>> CollectionMembers(const std::string& path);
  int64_t LastChangeSeq();
  Result<std::vector<Change>> ChangesSince(int64_t after_seq, size_t limit);
  Result<DatabaseStats> Stats();
  Result<int64_t> NodeCount();
  Status CheckIntegrity();

  // ---- search (database_search.cc) ----
  Result<TextSearchResult> SearchText(const TextSearchOptions& options);
  Result<VectorSearchResult> SearchVector(const VectorSearchOptions& options);

  // ---- queries (database_query.cc) ----
  Result<QueryResult> RunQuery(const nodespace::Query& query);
  query::QueryCache& query_cache() { return *query_cache_; }
  query::Statistics& query_stats() { return query_stats_; }
  query::HierarchyIndex& hierarchy() { return hierarchy_; }

  // ---- built-in embedder (database_embed.cc) ----
  Result<EmbedReport> FitBuiltinEmbedder(int dims);
  Result<EmbedReport> EmbedPending();
  Result<EmbedReport> UseExternalEmbedder(const ExternalEmbedderOptions& options);
  Result<std::vector<std::vector<float>>> EmbedTexts(const std::vector<std::string>& texts,
                                                     std::string* model);

  // ---- writes (database_write.cc) ----
  Result<BatchResult> Write(const WriteBatch& batch, const WriteOptions& options);
  Status AddToCollection(const std::string& id, const std::string& path,
                         const WriteOptions& options);
  Status RemoveFromCollection(const std::string& id, const std::string& path,
                              const WriteOptions& options);
  Status OptimizeTextIndex();
  Result<int64_t> SetLifecycle(const std::string& id, Lifecycle lifecycle, int64_t expected_version,
                               const WriteOptions& options);

  // ---- backup (database_backup.cc) ----
  Result<BackupReport> Backup(const std::string& dest_dir);
  Result<DatabaseFingerprint> Fingerprint();
  // Replaces the open database's content with the backup's, in one step
  // under the write lock (SQLite online backup into the writer connection).
  // The caller resets derived state (vector index, caches) afterwards.
  Status RestoreInPlace(const std::string& backup_dir);

  // ---- partitions and tiers (database_partitions.cc) ----
  Result<PartitioningStatus> GetPartitioningStatus();
  Result<int64_t> CompactPartition(int64_t id);
  // What a split did (EnablePartitioning).
  struct SplitReport {
    bool already_active = false;
    bool resumed = false;  // a split cut short earlier was finished
    int64_t partitions = 0;
    int64_t roots = 0;
    int64_t rows_moved = 0;
    int64_t batches = 0;
    double plan_ms = 0, move_ms = 0, index_ms = 0;
  };
  // Plans the partitions (or resumes a split cut short), moves every node
  // into its root's partition in batches while reads and writes go on,
  // builds each partition's vector index, then declares the layout active.
  Result<SplitReport> SplitIntoPartitions();
  // Turns tiering on (meta `tiering`) with options_.partitions.cold_after_ms.
  Status EnableTiering();
  // Partitions idle past cold_after_ms turn cold (index compacted, graph
  // quantized, unloaded); cold ones searched or written since turn hot.
  // Returns one line per change. No-op unless tiering is on.
  Result<std::vector<std::string>> RunTierPass();
  // Unloads loaded partitions, least recently used first, until the
  // process's resident memory is at most `budget_bytes`. Returns their ids.
  Result<std::vector<int64_t>> UnloadPartitionsOverBudget(int64_t budget_bytes);

  // ---- the dedicated vector service (database_vector_service.cc) ----
  // Starts and supervises `nodespace vector-service` for this database and
  // routes searches to it; records meta `vector_service` so the manager
  // starts it again at the next open. OK when already running.
  Status StartVectorService();
  void StopVectorService();
  VectorServiceInfo VectorServiceState();
  // Whether meta `vector_service` asks for the service.
  Result<bool> VectorServiceEnabled();

  // ---- automatic scaling (database_scaling.cc) ----
  // Starts the scaling manager when this process may run it (Open calls it).
  void StartScaling();
  // Stops the manager thread and its workers (the destructor calls it).
  void StopScaling();
  // Wakes the manager's thread for a check now (it must be running).
  void RequestScalingCheck();
  // The MemoryManager tier applied in this process, if any.
  std::optional<MemoryConfig> MemoryTierInForce();
  // Keeps the engine and its vector service within the tier (cache + vector
  // cache MB, scaling/memory_budget.h), measured now: when this process is
  // over what the service leaves it, returns the heap it freed to the system
  // (malloc_trim); then sets SQLite's heap limit to what is left after the
  // service and the engine's other memory. Every check ends with it, and a
  // background text index build runs it when it installs its index: the
  // build's scratch and the index it replaced are freed then, and the new
  // index may be larger than the one SQLite's limit was fitted around.
  void FitMemoryToTier();
  // Every check brings the hierarchy and text indexes forward to the newest
  // change when a query has built them (and nothing cleared them since),
  // so that after a large write (an import) the next query does not catch
  // up or rebuild inside itself: seconds for the hierarchy index at 1M
  // nodes. Failures are logged; a query then catches up as before.
  void BringDerivedIndexesForward();
  // The vector service's resident set in MB; 0 when none runs.
  int64_t VectorServiceResidentMb() const;
  // Whether the vector service's graphs are to walk on int8 codes now under
  // `tier` (scaling::GraphsShouldWalkOnCodes, and the database-wide tuning
  // still on floats), with the sizes judged. Never when no service runs.
  struct ServiceGraphsVerdict {
    bool quantize = false;
    int64_t service_mb = 0;
    int64_t float_graph_mb = 0;
  };
  Result<ServiceGraphsVerdict> JudgeServiceGraphs(const MemoryConfig& tier,
                                                  const ScalingMetrics& m);
  // Notes one finished query or search for the latency/rate metrics.
  void RecordOperation(double latency_ms, bool vector, bool cache_lookup, bool cache_hit);
  Result<ScalingMetrics> CollectScalingMetrics();
  Result<ScalingStatus> GetScalingStatus();
  Result<std::vector<ScalingEvent>> ScalingHistory(size_t limit);
  std::vector<ScalingMetrics> RecentScalingSamples(size_t limit);
  Result<std::vector<ScalingEvent>> RunScalingCheck();
  Result<ScalingEvent> ApplyScalingAction(OptimizationAction action, bool dry_run);
  Result<ScalingEvent> MigratePhase(ScalingPhase target);
  // The cost optimizer's ScalingConfig in force (defaults without scaling).
  ScalingConfig CostConfig() const;

  // Bulk loading (database_bulk_load.cc; see Database::BeginBulkLoad).
  Status BeginBulkLoad();
  Result<bool> FinishBulkLoad();
  Result<bool> BulkLoadPending();
  // Whether this process holds a bulk load (the scaling manager waits).
  bool BulkLoading();

 private:
  // flock on <db>/bulk_load.lock, held from BeginBulkLoad to FinishBulkLoad.
  bool LockBulkLoad();
  void UnlockBulkLoad();
  // Ends a load with the index `build` made, on a connection of its own:
  // true when done, false when nothing was pending, NotFound when the table
  // changed in a way the build cannot have followed, or the build's error.
  Result<bool> FinishBulkLoadWithTextBuild(BulkTextBuild& build);

  // A reader connection lent for the duration of one read.
  class ReaderLease {
   public:
    ReaderLease(Impl* impl, std::unique_ptr<storage::Connection> conn)
        : impl_(impl), conn_(std::move(conn)) {}
    ~ReaderLease();
    ReaderLease(ReaderLease&&) = default;
    storage::Connection& operator*() { return *conn_; }
    storage::Connection* operator->() { return conn_.get(); }

   private:
    Impl* impl_;
    std::unique_ptr<storage::Connection> conn_;
  };
  Result<ReaderLease> AcquireReader();
  Status ConfigureConnection(storage::Connection& conn, bool writer);
  // A read-only connection of its own for a background thread (the text
  // index's builds, a bulk load's text build): the busy timeout only.
  Result<std::unique_ptr<storage::Connection>> OpenBackgroundReader() const;

  // State of one write transaction.
  struct WriteContext {
    storage::Connection& conn;
    const WriteOptions& options;
    TimestampMs now;
    // Written into every change row: options.origin, or the batch
    // operation's own (WriteBatch::Add).
    std::string_view origin;
    std::optional<std::map<std::string, schema::TypeSchema>> user_schemas;
    std::optional<int64_t> embedding_dim;  // 0: none stored yet
    // Meta `partitioning`, read once per transaction ("" when absent).
    std::optional<std::string> partitioning;
    std::set<int64_t> touched_partitions;  // written into; touched at commit
    // Set by writes that keep the bulk load's memo true (creates and edges
    // in a batch); WithWriteTxn forgets the memo after any other.
    BulkLoadMemo* bulk_memo = nullptr;
    // Set with bulk_memo by Write: AppendChange holds change rows here and
    // CreateNode node rows; they go in before anything could read them
    // (PendingChanges).
    PendingChanges* pending_changes = nullptr;
  };
  // Runs `fn` inside one write transaction and commits. `no_child_reads`:
  // `fn` reads children only through KeyForPosition, which builds a
  // deferred parent index itself (a batch of creates and edges, whose other
  // lookups the bulk load's memo answers while complete; the load's own
  // bookkeeping), so the index may stay deferred.
  template <typename Fn>
  auto WithWriteTxn(const WriteOptions& options, Fn&& fn, bool no_child_reads = false)
      -> decltype(fn(std::declval<WriteContext&>()));

  // A load that began on an empty table defers the sibling-order index
  // (nodes_by_parent) too: its creates take every parent's last key from
  // the memo. Any write that may read children (anything but a batch of
  // creates and edges while the memo knows the whole table, and any create
  // placed other than last) builds it first, in its transaction (`ctx`),
  // and takes it off meta `bulk_load`: one sorted pass instead of a scan of
  // the table per lookup. No-op unless parent_index_deferred_.
  Status RestoreDeferredParentIndex(WriteContext& ctx);
  // Re-creates one object BeginBulkLoad dropped (`object`, an entry of meta
  // `bulk_load`); RecreateDeferredObjects all of them, then deletes the key.
  Status CreateDeferredObject(storage::Connection& conn, const nlohmann::json& object);
  Status RecreateDeferredObjects(storage::Connection& conn, const nlohmann::json& saved);
  // Gives the children of every parent with two children under one order
  // key new keys (logged as moves), so that the unique sibling-order index
  // can be built; returns how many parents that took.
  Result<int64_t> RenumberDuplicateSiblingKeys(storage::Connection& conn);

  // Each mutation checks everything it can before its first write, so a
  // failure leaves the transaction as it found it.
  Result<Node> CreateNode(WriteContext& ctx, const NewNode& n);
  Result<Node> UpdateNode(WriteContext& ctx, const std::string& id, const NodePatch& patch,
                          int64_t expected_version);
  Result<Node> MoveNode(WriteContext& ctx, const std::string& id, const std::string& new_parent,
                        const Position& position, int64_t expected_version);
  Result<int64_t> DeleteSubtree(WriteContext& ctx, const std::string& id, int64_t expected_version);
  Result<int64_t> SetLifecycleInTxn(WriteContext& ctx, const std::string& id, Lifecycle lifecycle,
                                    int64_t expected_version);
  Status AddEdgeInTxn(WriteContext& ctx, const Edge& edge);
  Status RemoveEdgeInTxn(WriteContext& ctx, const std::string& from, const std::string& to,
                         const std::string& type);

  Result<std::optional<Node>> LoadNode(storage::Connection& conn, const std::string& id);
  Result<Node> LoadForWrite(WriteContext& ctx, const std::string& id, int64_t expected_version);
  // Whether a node with `id` exists (the bulk load's memo, else the table).
  Result<bool> NodeExists(WriteContext& ctx, const std::string& id);
  Status EnsureParent(WriteContext& ctx, const std::string& parent_id);
  Result<std::string> KeyForPosition(WriteContext& ctx, const std::string& parent_id,
                                     const Position& position, const std::string& exclude_id);
  Result<std::string> ComputeKey(WriteContext& ctx, const std::string& parent_id,
                                 const Position& position, const std::string& exclude_id);
  Status RenumberSiblings(WriteContext& ctx, const std::string& parent_id);
  Status ValidateContent(const std::string& content) const;
  Status ValidateType(const std::string& node_type) const;
  Status ValidateProperties(WriteContext& ctx, const std::string& node_id,
                            const std::string& node_type, const std::string& properties);
  Status ValidateEmbedding(WriteContext& ctx, const std::vector<float>& embedding);
  Status SyncMentions(WriteContext& ctx, const std::string& id, const std::string& content,
                      bool had_content);
  Status AppendChange(WriteContext& ctx, ChangeOp op, const std::string& node_id, int64_t version,
                      std::string payload);
  // The partition a new node goes to: its parent's, or for a root the one
  // the scheme picks (0 when the database is not partitioned).
  Result<int64_t> PartitionForNewNode(WriteContext& ctx, const std::string& parent_id);
  // Whether the database has a partition layout (read once per transaction).
  Result<bool> IsPartitioned(WriteContext& ctx);
  // Inserts the node rows the batch holds (WriteContext::pending_changes)
  // before a statement that may read them.
  Status FlushHeldNodes(WriteContext& ctx);
  // CreateNode's INSERT of `n`'s row.
  Status InsertNodeRow(WriteContext& ctx, const Node& n, int64_t partition);
  // After `id` moved under `new_parent`: moves its subtree into the new
  // root's partition when that differs, in the same transaction.
  Status RepartitionMovedSubtree(WriteContext& ctx, const std::string& id,
                                 const std::string& new_parent);
  // Lowers the node counts of the partitions temp.subtree's nodes are in.
  Status UncountSubtree(WriteContext& ctx);
  Status CollectSubtree(storage::Connection& conn, const std::string& id);
  Result<std::string> ResolveCollection(storage::Connection& conn, const std::string& path,
                                        WriteContext* create_in);
  Result<std::vector<Node>> ListNodes(const std::string& sql, const std::string& arg, size_t limit);
  // Children of parent_id ("" = roots) in sibling order (ListOptions).
  Result<std::vector<Node>> ListChildren(const std::string& parent_id, const ListOptions& options);

  // Sets meta keys (and runs `extra_sql`) in one write transaction.
  Status WriteMeta(const std::map<std::string, std::string>& values, const std::string& extra_sql);
  std::string ModelPath() const;
  // The embedder the database is configured with (meta `embedder`).
  Result<std::shared_ptr<embed::Embedder>> ActiveEmbedder();
  Result<std::vector<float>> EmbedQuery(const std::string& text);
  // Vectors for every active node (`all`) or for those without one.
  Result<EmbedReport> EmbedNodes(bool all);

  // ---- scaling internals (database_scaling.cc) ----
  struct ScalingState;
  struct ActionOutcome;
  Result<ActionOutcome> PerformAction(OptimizationAction action, bool dry_run,
                                      const ScalingMetrics& metrics);
  Result<ScalingEvent> RunAction(OptimizationAction action, bool dry_run,
                                 const std::string& trigger, const std::string& phrase,
                                 const ScalingMetrics& metrics);
  Status RecordEvent(ScalingEvent& event);
  Result<ScalingPhase> RecordedPhase();
  Result<ScalingEvent> MigratePhaseFrom(ScalingPhase target, const std::string& trigger,
                                        const ScalingMetrics& metrics);
  void ApplyPageCacheBudget(int64_t cache_mib);
  void Log(const std::string& line) const;

  const std::string path_;
  const Options options_;
  std::string db_file_;

  // Recursive: a phase migration holds it from its backup to its verdict
  // (no write may land in between and be undone by a rollback) while the
  // steps it runs take it again.
  std::recursive_mutex write_mu_;
  std::unique_ptr<storage::Connection> writer_;  // guarded by write_mu_
  BulkLoadMemo bulk_memo_;                       // guarded by write_mu_
  // Set while a load may have deferred nodes_by_parent (this process began
  // one on an empty table, or one was pending at open); cleared once meta
  // `bulk_load` no longer lists it. Guarded by write_mu_.
  bool parent_index_deferred_ = false;

  std::mutex bulk_mu_;
  int bulk_lock_fd_ = -1;  // guarded by bulk_mu_
  // The load's full-text index, built as its rows commit (BeginBulkLoad to
  // FinishBulkLoad; guarded by bulk_mu_).
  std::unique_ptr<BulkTextBuild> bulk_text_build_;

  std::mutex reader_mu_;
  std::vector<std::unique_ptr<storage::Connection>> idle_readers_;  // guarded by reader_mu_

  // Derived from the nodes table; declared after options_, which it reads.
  std::unique_ptr<PartitionedVectorStore> vectors_;
  // Where searches go: the vector service while it is healthy, else vectors_.
  std::unique_ptr<ServiceOrLocalVectorStore> search_vectors_;
  std::mutex service_mu_;  // Start/Stop of the supervisor
  std::shared_ptr<service::VectorServiceSupervisor> vector_service_;  // atomic access
  std::mutex embedder_mu_;
  std::shared_ptr<embed::Embedder> embedder_;  // guarded by embedder_mu_; loaded lazily
  std::string embedder_model_;                 // guarded by embedder_mu_: what embedder_ is
  std::string external_api_key_;               // guarded by embedder_mu_

  std::unique_ptr<query::QueryCache> query_cache_;
  query::Statistics query_stats_;
  // The tree's shape for subtree filters, caught up by queries that need it.
  query::HierarchyIndex hierarchy_;
  text::TextIndex text_index_;

  // One split at a time in this process (the partitioning and tiering
  // actions may both start one); another process is kept out by the state
  // in meta, read inside the write transaction that plans.
  std::mutex split_mu_;

  // SQLite page cache per connection, KiB; the MemoryManager's tier sets it.
  std::atomic<int64_t> page_cache_kib_{0};
  // SQLite's soft heap limit set by ApplyPageCacheBudget, MB (0: none set).
  std::atomic<int64_t> sqlite_heap_limit_mb_{0};
  std::mutex memory_fit_mu_;  // one FitMemoryToTier at a time
  // Shared so that its (incomplete here) type may be destroyed in database.cc.
  std::shared_ptr<ScalingState> scaling_;
};

// Defined here so that every database_*.cc can run write transactions.
template <typename Fn>
auto Database::Impl::WithWriteTxn(const WriteOptions& options, Fn&& fn, bool no_child_reads)
    -> decltype(fn(std::declval<WriteContext&>())) {
  if (options_.read_only) return Status::NotSupported("database was opened read-only");
  std::lock_guard lock(write_mu_);
  storage::Transaction txn(*writer_);
  NS_RETURN_IF_ERROR(txn.Begin());
  if (bulk_memo_.active()) {
    NS_ASSIGN_OR_RETURN(const int64_t data_version, writer_->QueryInt("PRAGMA data_version"));
    bulk_memo_.CheckDataVersion(data_version);
  }
  WriteContext ctx{*writer_,     options,      ids::NowMs(), options.origin,
                   std::nullopt, std::nullopt, std::nullopt, {}};
  if (parent_index_deferred_ && !(no_child_reads && bulk_memo_.complete())) {
    if (Status restored = RestoreDeferredParentIndex(ctx); !restored.ok()) return restored;
  }
  auto result = fn(ctx);
  // A write that did not keep the memo, or one rolled back, may have made
  // what it remembers untrue.
  if (ctx.bulk_memo == nullptr || !result.ok()) bulk_memo_.Forget();
  if (!result.ok()) return result;  // txn rolls back
  if (Status committed = txn.Commit(); !committed.ok()) {
    bulk_memo_.Forget();
    return committed;
  }
  for (int64_t partition : ctx.touched_partitions) vectors_->Touch(partition, ctx.now);
  return result;
}

}  // namespace nodespace
