// Opening a database and the public Database API (which forwards to Impl).
#include "nodespace/database.h"

#include <chrono>
#include <filesystem>
#include <string>

#include "db/database_impl.h"
#include "env/info_log.h"
#include "index/vector/metric.h"
#include "storage/schema.h"

namespace nodespace {

namespace fs = std::filesystem;

int CurrentSchemaVersion() {
  return storage::kSchemaVersion;
}

namespace {

// The manager, index builds and writers all report: one line at a time.
Options WithSerializedLog(Options options) {
  options.info_log = OneLineAtATime(std::move(options.info_log));
  return options;
}

}  // namespace

Database::Impl::Impl(std::string path, Options options)
    : path_(std::move(path)),
      options_(WithSerializedLog(std::move(options))),
      query_cache_(std::make_unique<query::QueryCache>(
          options_.query_cache_enabled, options_.query_cache_bytes, options_.query_cache_ttl_ms)),
      page_cache_kib_(int64_t{options_.page_cache_mib} * 1024) {}

Database::Impl::~Impl() {
  {
    std::lock_guard lock(bulk_mu_);
    bulk_text_build_.reset();  // an unfinished load: the next open rebuilds
  }
  text_index_.StopBackgroundBuild();
  StopScaling();
  StopVectorService();
  {
    std::lock_guard<std::mutex> lock(reader_mu_);
    idle_readers_.clear();
  }
  std::lock_guard lock(write_mu_);
  writer_.reset();
  UnlockBulkLoad();
}

Status Database::Impl::ConfigureConnection(storage::Connection& conn, bool writer) {
  NS_RETURN_IF_ERROR(
      conn.Exec("PRAGMA busy_timeout = " + std::to_string(options_.busy_timeout_ms)));
  NS_RETURN_IF_ERROR(conn.Exec("PRAGMA cache_size = -" + std::to_string(page_cache_kib_.load())));
  NS_RETURN_IF_ERROR(conn.Exec("PRAGMA temp_store = MEMORY"));
  if (!writer) return Status::OK();
  // WAL: readers never block the writer nor the writer them. FULL syncs the
  // WAL on every commit, so an acknowledged write survives power loss.
  NS_RETURN_IF_ERROR(conn.Exec("PRAGMA journal_mode = WAL"));
  NS_RETURN_IF_ERROR(conn.Exec(options_.durability == Durability::kFull
                                   ? "PRAGMA synchronous = FULL"
                                   : "PRAGMA synchronous = NORMAL"));
  return Status::OK();
}

Result<std::unique_ptr<storage::Connection>> Database::Impl::OpenBackgroundReader() const {
  NS_ASSIGN_OR_RETURN(auto conn,
                      storage::Connection::Open(db_file_, /*read_only=*/true, /*create=*/false));
  NS_RETURN_IF_ERROR(
      conn->Exec("PRAGMA busy_timeout = " + std::to_string(options_.busy_timeout_ms)));
  return conn;
}

Status Database::Impl::Open() {
  NS_RETURN_IF_ERROR(vector::ParseMetric(options_.vector_metric).status());
  vectors_ = std::make_unique<PartitionedVectorStore>(path_, options_);
  search_vectors_ = std::make_unique<ServiceOrLocalVectorStore>(
      *vectors_, [this] { return std::atomic_load(&vector_service_); },
      [this](const std::string& line) { Log(line); });
  std::error_code ec;
  const bool dir_exists = fs::is_directory(path_, ec);
  if (fs::exists(path_, ec) && !dir_exists) {
    return Status::InvalidArgument("'" + path_ + "' exists and is not a database directory");
  }
  db_file_ = (fs::path(path_) / "nodespace.db").string();
  // Large full-text index builds read through a connection of their own
  // while FTS5 answers searches; the memory fit follows each (the old index
  // and the build's scratch are freed, the new index may be larger).
  text_index_.BuildInBackground([this] { return OpenBackgroundReader(); },
                                text::TextIndex::kBackgroundBuildRows,
                                [this] { FitMemoryToTier(); });
  const bool file_exists = fs::exists(db_file_, ec);
  if (file_exists && options_.error_if_exists) {
    return Status::AlreadyExists("database '" + path_ + "' already exists");
  }
  if (!file_exists) {
    if (!options_.create_if_missing || options_.read_only) {
      return Status::NotFound("no database at '" + path_ + "' (run `nodespace init` first)");
    }
    fs::create_directories(path_, ec);
    if (ec) return Status::IOError("cannot create '" + path_ + "': " + ec.message());
  }

  if (options_.read_only) {
    NS_ASSIGN_OR_RETURN(auto conn, storage::Connection::Open(db_file_, true, false));
    NS_RETURN_IF_ERROR(ConfigureConnection(*conn, false));
    NS_ASSIGN_OR_RETURN(int version, storage::StoredSchemaVersion(*conn));
    if (version > storage::kSchemaVersion) {
      // Migrating cannot help here: say so, as a writable open would.
      return Status::NotSupported("database schema version " + std::to_string(version) +
                                  " is newer than this build supports (" +
                                  std::to_string(storage::kSchemaVersion) +
                                  "); upgrade nodespace to open it");
    }
    if (version != storage::kSchemaVersion) {
      return Status::NotSupported(
          "database schema version " + std::to_string(version) + " differs from this build's (" +
          std::to_string(storage::kSchemaVersion) + "); open it for writing once to migrate");
    }
    {
      std::lock_guard<std::mutex> lock(reader_mu_);
      idle_readers_.push_back(std::move(conn));
    }
    StartScaling();  // metrics only: a read-only process never runs the manager
    return Status::OK();
  }

  NS_ASSIGN_OR_RETURN(writer_, storage::Connection::Open(db_file_, false, true));
  if (!file_exists) {
    // Lets background compaction hand freed pages back to the file system
    // (PRAGMA incremental_vacuum). Only settable before the file's header
    // is written, which switching to WAL does.
    NS_RETURN_IF_ERROR(writer_->Exec("PRAGMA auto_vacuum = INCREMENTAL"));
  }
  NS_RETURN_IF_ERROR(ConfigureConnection(*writer_, true));
  NS_RETURN_IF_ERROR(storage::MigrateSchema(*writer_));
  // Scratch space for subtree operations; private to this connection.
  NS_RETURN_IF_ERROR(writer_->Exec("CREATE TEMP TABLE IF NOT EXISTS subtree(id TEXT PRIMARY KEY)"));
  // A bulk load whose process died (nobody holds its lock): its rows are
  // committed, its indexes are not built yet. Build them before anyone
  // searches. One that another process is running is left to it.
  NS_ASSIGN_OR_RETURN(bool pending, BulkLoadPending());
  if (pending) {
    std::lock_guard lock(write_mu_);
    // It may have deferred nodes_by_parent: the first write that reads
    // children looks (RestoreDeferredParentIndex).
    parent_index_deferred_ = true;
  }
  if (pending && LockBulkLoad()) {
    Log("finishing an interrupted bulk load: rebuilding the full-text and secondary indexes");
    NS_RETURN_IF_ERROR(FinishBulkLoad().status());
  }
  StartScaling();
  return Status::OK();
}

Result<std::unique_ptr<Database>> Database::Open(const std::string& path, const Options& options) {
  auto impl = std::make_unique<Impl>(path, options);
  Status st = impl->Open();
  if (!st.ok()) return st;
  return std::unique_ptr<Database>(new Database(std::move(impl)));
}

Database::Database(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Database::~Database() = default;

const std::string& Database::path() const {
  return impl_->path();
}
const Options& Database::options() const {
  return impl_->options();
}

Result<Node> Database::Get(const std::string& id) const {
  return impl_->Get(id);
}
Result<std::vector<Node>> Database::Children(const std::string& parent_id,
                                             const ListOptions& options) const {
  return impl_->Children(parent_id, options);
}
Result<std::vector<Node>> Database::Roots(const ListOptions& options) const {
  return impl_->Roots(options);
}
Result<int64_t> Database::CountChildren(const std::string& parent_id, bool include_archived) const {
  return impl_->CountChildren(parent_id, include_archived);
}
Status Database::VisitSubtree(const std::string& id, const SubtreeOptions& options,
                              const SubtreeVisitor& visitor) const {
  return impl_->VisitSubtree(id, options, visitor);
}
Result<std::vector<Node>> Database::Ancestors(const std::string& id) const {
  return impl_->Ancestors(id);
}
Result<std::vector<Node>> Database::Backlinks(const std::string& id) const {
  return impl_->Backlinks(id);
}
Result<std::vector<Edge>> Database::Edges(const std::string& id, bool outgoing,
                                          const std::string& type) const {
  return impl_->Edges(id, outgoing, type);
}
Result<std::vector<std::string>> Database::CollectionsOf(const std::string& id) const {
  return impl_->CollectionsOf(id);
}
Result<std::vector<Node>> Database::CollectionMembers(const std::string& path) const {
  return impl_->CollectionMembers(path);
}

namespace {
// Runs a one-operation batch and unwraps its single result.
Result<Node> SingleNodeOp(Database::Impl& impl, WriteBatch batch, const WriteOptions& options,
                          const std::function<Result<Node>(const std::string&)>& reload) {
  NS_ASSIGN_OR_RETURN(BatchResult r, impl.Write(batch, options));
  return reload(r.results.front().node_id);
}
}  // namespace

Result<Node> Database::Create(const NewNode& node, const WriteOptions& options) {
  WriteBatch batch;
  batch.Create(node);
  return SingleNodeOp(*impl_, std::move(batch), options,
                      [this](const std::string& id) { return impl_->Get(id); });
}

Result<Node> Database::Update(const std::string& id, const NodePatch& patch,
                              int64_t expected_version, const WriteOptions& options) {
  WriteBatch batch;
  batch.Update(id, patch, expected_version);
  return SingleNodeOp(*impl_, std::move(batch), options,
                      [this](const std::string& nid) { return impl_->Get(nid); });
}

Result<Node> Database::Move(const std::string& id, const std::string& new_parent_id,
                            const Position& position, int64_t expected_version,
                            const WriteOptions& options) {
  WriteBatch batch;
  batch.Move(id, new_parent_id, position, expected_version);
  return SingleNodeOp(*impl_, std::move(batch), options,
                      [this](const std::string& nid) { return impl_->Get(nid); });
}

Result<int64_t> Database::Delete(const std::string& id, int64_t expected_version,
                                 const WriteOptions& options) {
  WriteBatch batch;
  batch.Delete(id, expected_version);
  NS_ASSIGN_OR_RETURN(BatchResult r, impl_->Write(batch, options));
  return r.results.front().affected;
}

Result<int64_t> Database::SetLifecycle(const std::string& id, Lifecycle lifecycle,
                                       int64_t expected_version, const WriteOptions& options) {
  return impl_->SetLifecycle(id, lifecycle, expected_version, options);
}
Status Database::AddEdge(const Edge& edge, const WriteOptions& options) {
  WriteBatch batch;
  batch.AddEdge(edge);
  return impl_->Write(batch, options).status();
}
Status Database::RemoveEdge(const std::string& from_id, const std::string& to_id,
                            const std::string& type, const WriteOptions& options) {
  WriteBatch batch;
  batch.RemoveEdge(from_id, to_id, type);
  return impl_->Write(batch, options).status();
}
Status Database::AddToCollection(const std::string& id, const std::string& path,
                                 const WriteOptions& options) {
  return impl_->AddToCollection(id, path, options);
}
Status Database::RemoveFromCollection(const std::string& id, const std::string& path,
                                      const WriteOptions& options) {
  return impl_->RemoveFromCollection(id, path, options);
}
Result<BatchResult> Database::Write(const WriteBatch& batch, const WriteOptions& options) {
  return impl_->Write(batch, options);
}

int64_t Database::LastChangeSeq() const {
  return impl_->LastChangeSeq();
}
Result<std::vector<Change>> Database::ChangesSince(int64_t after_seq, size_t limit) const {
  return impl_->ChangesSince(after_seq, limit);
}
namespace {

// Times one read for the scaling metrics (ScalingMetrics latency and rates).
class OperationTimer {
 public:
  OperationTimer() : start_(std::chrono::steady_clock::now()) {}
  double ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_)
        .count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

Result<TextSearchResult> Database::SearchText(const TextSearchOptions& options) const {
  OperationTimer timer;
  auto result = impl_->SearchText(options);
  impl_->RecordOperation(timer.ms(), false, false, false);
  return result;
}
Result<VectorSearchResult> Database::SearchVector(const VectorSearchOptions& options) const {
  OperationTimer timer;
  auto result = impl_->SearchVector(options);
  impl_->RecordOperation(timer.ms(), true, false, false);
  return result;
}
Result<QueryResult> Database::RunQuery(const nodespace::Query& query) const {
  OperationTimer timer;
  auto result = impl_->RunQuery(query);
  impl_->RecordOperation(timer.ms(), !query.vector.empty() || !query.semantic.empty(),
                         query.use_cache, result.ok() && result->explain.cache_hit);
  return result;
}
Result<QueryResult> Database::RunQueryJson(const std::string& json) const {
  NS_ASSIGN_OR_RETURN(nodespace::Query query, ParseQueryJson(json, impl_->options().query_limits));
  return RunQuery(query);
}
QueryCacheStats Database::QueryCacheStatistics() const {
  return impl_->query_cache().Stats();
}
void Database::ConfigureQueryCache(bool enabled, size_t capacity_bytes, int64_t ttl_ms) {
  impl_->query_cache().Configure(enabled, capacity_bytes, ttl_ms);
}
std::vector<FieldUsage> Database::QueryFieldUsage() const {
  return impl_->query_stats().FieldUsages();
}
Result<EmbedReport> Database::FitBuiltinEmbedder(int dims) {
  return impl_->FitBuiltinEmbedder(dims);
}
Result<EmbedReport> Database::EmbedPending() {
  return impl_->EmbedPending();
}
Result<EmbedReport> Database::UseExternalEmbedder(const ExternalEmbedderOptions& options) {
  return impl_->UseExternalEmbedder(options);
}
Status Database::OptimizeTextIndex() {
  return impl_->OptimizeTextIndex();
}
Result<int64_t> Database::NodeCount() const {
  return impl_->NodeCount();
}
Result<DatabaseStats> Database::Stats() const {
  return impl_->Stats();
}
Status Database::CheckIntegrity() const {
  return impl_->CheckIntegrity();
}

}  // namespace nodespace
