// The scaling manager: metrics, triggers, actions, memory tiers, the cost
// optimizer and phase migration (include/nodespace/scaling.h,
// docs/SCALING.md).
//
// One process per database runs the manager: the one holding an exclusive
// flock on <db>/scaling.lock. It samples every ScalingOptions::interval_ms on
// its own thread and runs the actions a check fires on a BackgroundPool sized
// by the MemoryConfig tier. Every action is recorded in the scaling_events
// table and reported through Options::info_log.
#include <fcntl.h>
#include <malloc.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "db/database_impl.h"
#include "model/ids.h"
#include "scaling/background_pool.h"
#include "scaling/hot_indexes.h"
#include "scaling/memory_budget.h"
#include "scaling/metrics_json.h"
#include "scaling/operation_window.h"
#include "scaling/process_probe.h"
#include "scaling/triggers.h"
#include "service/vector_service_supervisor.h"
#include "storage/meta.h"

namespace nodespace {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using storage::ScopedStatement;
using storage::Statement;

constexpr int64_t kMiB = 1024 * 1024;
// The floor of the query cache when memory is short.
constexpr size_t kMinQueryCacheBytes = 1 << 20;
// Vector index slots that are tombstones before compaction rebuilds it.
constexpr double kReclaimTombstoneFraction = 0.2;
constexpr int kSampleQueries = 6;

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

json TuningJson(const VectorTuning& t) {
  return json{{"m", t.m},
              {"ef_construction", t.ef_construction},
              {"ef_search", t.ef_search},
              {"int8", t.int8}};
}

json VectorInfoJson(const VectorIndexInfo& info) {
  return json{{"kind", VectorIndexStore::VectorIndexKindName(info.kind)},
              {"vectors", info.size},
              {"deleted", info.deleted},
              {"memory_bytes", info.memory_bytes},
              {"file_bytes", info.file_bytes},
              {"mapped", info.mapped},
              {"warmed_bytes", info.warmed_bytes},
              {"tuning", TuningJson(info.tuning)}};
}

json CacheJson(const QueryCacheStats& s) {
  return json{{"enabled", s.enabled},         {"capacity_bytes", s.capacity_bytes},
              {"max_entries", s.max_entries}, {"ttl_ms", s.ttl_ms},
              {"entries", s.entries},         {"bytes", s.bytes}};
}

json HotIndexesJson(const std::vector<scaling::HotIndex>& list) {
  json out = json::array();
  for (const auto& h : list) out.push_back({{"name", h.name}, {"field", h.field}});
  return out;
}

// The trigger states a manager saved in meta (`scaling_triggers`), so that
// a restart neither fires a trigger again nor reports it armed.
Status LoadTriggerStates(storage::Connection& conn, scaling::TriggerEvaluator& evaluator) {
  NS_ASSIGN_OR_RETURN(std::optional<std::string> saved,
                      storage::ReadMeta(conn, "scaling_triggers"));
  if (!saved) return Status::OK();
  json j = json::parse(*saved, nullptr, false);
  if (!j.is_object()) return Status::OK();  // damaged: every trigger starts armed
  for (const auto& [name, v] : j.items()) {
    if (!v.is_object()) continue;
    evaluator.states()[name] = {v.value("armed", true), v.value("fired_at_ms", int64_t{0})};
  }
  return Status::OK();
}

}  // namespace

// What one action did: its result word, a note for the log line, details.
struct Database::Impl::ActionOutcome {
  std::string result = "applied";  // applied | recommended | skipped | failed | dry-run
  std::string note;
  json detail = json::object();
};

struct Database::Impl::ScalingState {
  explicit ScalingState(const ScalingOptions& o)
      : options(o), evaluator(o.thresholds), config(OptimizeForBudget(o.budget)), pool(1) {}

  const ScalingOptions options;
  scaling::OperationWindow window;
  scaling::ProcessProbe probe;

  std::mutex mu;  // guards everything below up to `pool`
  scaling::TriggerEvaluator evaluator;
  bool trigger_states_loaded = false;
  const ScalingConfig config;
  MemoryConfig tier;
  bool tier_applied = false;
  // The tier was applied again for a vector service over its vector cache
  // (at most once per tier).
  bool service_over_vector_cache_handled = false;
  int64_t last_seq = -1;
  int64_t last_seq_ms = 0;
  int64_t index_bytes = 0;
  int64_t vector_count = 0;
  int64_t vector_count_nodes = 0;  // the node count when vector_count was measured
  int64_t expensive_at_ms = -1;    // when index_bytes/vector_count were measured
  int64_t last_compaction_ms = 0;
  // The most recent samples, oldest first (at most options.sample_history).
  std::deque<ScalingMetrics> samples;

  std::mutex check_mu;  // one check or migration at a time
  scaling::BackgroundPool pool;

  std::mutex thread_mu;
  std::condition_variable cv;
  bool stop = false;  // guarded by thread_mu
  // A check asked for before the interval is up (RequestScalingCheck).
  bool check_requested = false;  // guarded by thread_mu
  std::thread thread;
  int lock_fd = -1;
  bool running = false;  // this process runs the manager
};

void Database::Impl::Log(const std::string& line) const {
  if (options_.info_log) {
    options_.info_log(line);
  } else {
    std::fprintf(stderr, "nodespace: %s\n", line.c_str());
  }
}

// ---- lifecycle ---------------------------------------------------------

void Database::Impl::StartScaling() {
  scaling_ = std::make_shared<ScalingState>(options_.scaling);
  ScalingState& s = *scaling_;
  s.last_compaction_ms = ids::NowMs();
  if (!options_.scaling.enabled) return;
  if (options_.scaling.apply_memory_tiers) {
    // The tier applies from the start in every process (each bounds its own
    // caches). max(rowid) is an O(log n) upper bound of the node count; the
    // manager's first check corrects the tier if deletes made it too high.
    Result<int64_t> estimate = [&]() -> Result<int64_t> {
      NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
      return conn->QueryInt("SELECT ifnull(max(rowid), 0) FROM nodes");
    }();
    if (estimate.ok()) {
      const MemoryConfig tier = MemoryConfigForNodeCount(*estimate);
      ApplyPageCacheBudget(tier.cache_size_mb);
      query_cache_->SetMaxEntries(static_cast<size_t>(tier.query_cache_entries));
      s.pool.Resize(static_cast<size_t>(tier.background_tasks));
      std::lock_guard lock(s.mu);
      s.tier = tier;
      s.tier_applied = true;
    }
  }
  if (options_.read_only) return;
  // The cost optimizer decides how long results may live.
  const QueryCacheStats cache = query_cache_->Stats();
  query_cache_->Configure(cache.enabled, cache.capacity_bytes, s.config.query_result_ttl_ms);

  // One manager per database: whoever holds the lock. Another process's
  // manager covers this one's writes too (the metrics it acts on are the
  // database's, plus its own process's).
  const std::string lock_path = path_ + "/scaling.lock";
  s.lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s.lock_fd < 0) {
    Log("scaling manager not started: cannot open " + lock_path);
    return;
  }
  if (::flock(s.lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(s.lock_fd);
    s.lock_fd = -1;
    return;  // another process runs it
  }
  s.running = true;
  if (options_.scaling.interval_ms <= 0) return;
  s.thread = std::thread([this] {
    ScalingState& st = *scaling_;
    // A database that moved its vectors to the service gets it back in
    // every long-running process that manages it.
    Result<bool> service = VectorServiceEnabled();
    if (service.ok() && *service) {
      Status started = StartVectorService();
      if (!started.ok()) Log("vector service not started: " + started.message());
    }
    // The first check waits one interval: a short-lived process (one CLI
    // command) should not pay for a full sample on its way out.
    while (true) {
      {
        std::unique_lock lock(st.thread_mu);
        st.cv.wait_for(lock, std::chrono::milliseconds(st.options.interval_ms),
                       [&st] { return st.stop || st.check_requested; });
        if (st.stop) break;
        st.check_requested = false;
      }
      // Not while this process bulk loads: its indexes are dropped and its
      // numbers in flux, and the actions the load sets off (a partition
      // split, index builds, the vector service) would compete with it and
      // keep a command-line import running long after its last row. The
      // next check after the load, here or in the next process, acts.
      if (BulkLoading()) continue;
      Result<std::vector<ScalingEvent>> events = RunScalingCheck();
      if (!events.ok()) Log("scaling check failed: " + events.status().message());
    }
  });
  // A property queried often enough for an index of its own gets it at
  // once (the hot_fields trigger), not up to an interval later.
  query_stats_.SetFieldUseAlert(scaling::HotIndexPolicy{}.min_uses,
                                [this] { RequestScalingCheck(); });
}

void Database::Impl::FitMemoryToTier() {
  const std::optional<MemoryConfig> tier = MemoryTierInForce();
  if (!tier) return;
  std::lock_guard fitting(memory_fit_mu_);
  const int64_t resident_bytes = scaling::ResidentBytes();
  if (resident_bytes < 0) return;
  scaling::MemoryUse use;
  const auto service = std::atomic_load(&vector_service_);
  use.service_running = service && service->state().running;
  use.service_resident_mb = VectorServiceResidentMb();
  use.engine_resident_mb = resident_bytes / kMiB;
  use.sqlite_mb = sqlite3_memory_used() / kMiB;
  const int64_t share_mb = scaling::TierBudgetMb(*tier) - scaling::ServiceShareMb(*tier, use);
  int64_t wanted_mb = scaling::SqliteHeapLimitMb(*tier, use);
  if (use.engine_resident_mb > share_mb || wanted_mb < tier->cache_size_mb) {
    // Over its share, or about to squeeze SQLite: first hand back the heap
    // the process freed. Import batches, index builds and catch-ups free far
    // more than the allocator returns by itself: at 100K nodes in the growth
    // benchmark the engine held 1 GB resident with 250 MB of it SQLite's.
    malloc_trim(0);
    const int64_t after_mb = scaling::ResidentBytes() / kMiB;
    // Logged when it was over or the trim gave back something worth a line
    // (a fit runs at every check; most find little to return).
    constexpr int64_t kWorthLoggingMb = 16;
    if (use.engine_resident_mb > share_mb ||
        (after_mb >= 0 && use.engine_resident_mb - after_mb >= kWorthLoggingMb)) {
      Log("memory tier: resident " + std::to_string(use.engine_resident_mb) +
          " MB (this process's share of the tier: " + std::to_string(share_mb) +
          " MB); freed heap returned to the system, now " + std::to_string(after_mb) + " MB");
    }
    if (after_mb >= 0) use.engine_resident_mb = after_mb;
    wanted_mb = scaling::SqliteHeapLimitMb(*tier, use);
  }
  const int64_t current_mb = sqlite_heap_limit_mb_.load();
  if (!scaling::SqliteHeapLimitShouldMove(*tier, current_mb, wanted_mb)) return;
  ApplyPageCacheBudget(wanted_mb);
  // A smaller page cache freed its pages to the allocator.
  if (wanted_mb < current_mb) malloc_trim(0);
  Log("memory tier: SQLite heap limit " + std::to_string(current_mb) + " -> " +
      std::to_string(wanted_mb) + " MB (tier " + std::to_string(scaling::TierBudgetMb(*tier)) +
      " MB; vector service " + std::to_string(use.service_resident_mb) + " MB, " +
      std::to_string(scaling::ServiceShareMb(*tier, use)) + " MB kept for it; engine " +
      std::to_string(use.engine_resident_mb) + " MB of which SQLite " +
      std::to_string(use.sqlite_mb) + " MB)");
}

int64_t Database::Impl::VectorServiceResidentMb() const {
  const auto service = std::atomic_load(&vector_service_);
  if (!service) return 0;
  const service::VectorServiceSupervisor::State state = service->state();
  if (!state.running || state.pid <= 0) return 0;
  const int64_t bytes = scaling::ResidentBytesOf(state.pid);
  return bytes < 0 ? 0 : bytes / kMiB;
}

Result<Database::Impl::ServiceGraphsVerdict> Database::Impl::JudgeServiceGraphs(
    const MemoryConfig& tier, const ScalingMetrics& m) {
  ServiceGraphsVerdict v;
  if (!std::atomic_load(&vector_service_)) return v;
  v.service_mb = VectorServiceResidentMb();
  // The vector count is measured every expensive_metrics_ms (10 minutes by
  // default): a bulk import outgrows it long before. Counted again since,
  // every node added may have brought a vector, which bounds it from above.
  int64_t vectors = m.vector_count;
  {
    std::lock_guard lock(scaling_->mu);
    if (scaling_->expensive_at_ms >= 0) {
      vectors =
          std::max(vectors, scaling_->vector_count +
                                std::max<int64_t>(0, m.node_count - scaling_->vector_count_nodes));
    }
  }
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  NS_ASSIGN_OR_RETURN(std::optional<std::string> dims, storage::ReadMeta(*conn, "embedding_dim"));
  v.float_graph_mb =
      scaling::FloatGraphMb(vectors, dims ? std::atoll(dims->c_str()) : 0, options_.hnsw_m);
  if (!scaling::GraphsShouldWalkOnCodes(tier, v.float_graph_mb, v.service_mb)) return v;
  NS_ASSIGN_OR_RETURN(v.quantize, vectors_->DefaultWalksOnFloats(*conn));
  return v;
}

std::optional<MemoryConfig> Database::Impl::MemoryTierInForce() {
  if (!scaling_) return std::nullopt;
  std::lock_guard lock(scaling_->mu);
  if (!scaling_->tier_applied) return std::nullopt;
  return scaling_->tier;
}

void Database::Impl::RequestScalingCheck() {
  ScalingState& s = *scaling_;
  {
    std::lock_guard lock(s.thread_mu);
    s.check_requested = true;
  }
  s.cv.notify_all();
}

void Database::Impl::StopScaling() {
  if (!scaling_) return;
  query_stats_.SetFieldUseAlert(0, nullptr);
  ScalingState& s = *scaling_;
  {
    std::lock_guard lock(s.thread_mu);
    s.stop = true;
  }
  s.cv.notify_all();
  if (s.thread.joinable()) s.thread.join();
  if (s.lock_fd >= 0) {
    ::flock(s.lock_fd, LOCK_UN);
    ::close(s.lock_fd);
    s.lock_fd = -1;
  }
  s.running = false;
}

void Database::Impl::RecordOperation(double latency_ms, bool vector, bool cache_lookup,
                                     bool cache_hit) {
  if (!scaling_) return;
  scaling_->window.Record(ids::NowMs(), latency_ms, vector, cache_lookup, cache_hit,
                          scaling::ClientScope::Current());
}

// ---- metrics -------------------------------------------------------------

Result<ScalingMetrics> Database::Impl::CollectScalingMetrics() {
  if (!scaling_) return Status::Internal("scaling state missing");
  ScalingState& s = *scaling_;
  const auto start = std::chrono::steady_clock::now();
  ScalingMetrics m;
  m.sampled_at_ms = ids::NowMs();

  const scaling::WindowSummary w = s.window.Summarize(m.sampled_at_ms, s.options.window_ms);
  m.avg_query_latency_ms = w.avg_latency_ms;
  m.p95_query_latency_ms = w.p95_latency_ms;
  m.avg_vector_latency_ms = w.avg_vector_latency_ms;
  m.p95_vector_latency_ms = w.p95_vector_latency_ms;
  m.window_queries = w.operations;
  m.window_vector_queries = w.vector_operations;
  m.query_cache_hit_rate =
      w.cache_lookups == 0 ? 0 : static_cast<double>(w.cache_hits) / w.cache_lookups;
  m.queries_per_second = w.operations_per_second;
  // An embedded process is one client; servers name theirs (ClientScope).
  m.concurrent_users = std::max<int64_t>(1, w.distinct_clients);

  int64_t seq = 0;
  bool refresh_expensive = false;
  {
    NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
    storage::ReadTransaction snapshot(*conn);
    NS_RETURN_IF_ERROR(snapshot.Begin());
    // count(*) walks the smallest index (node_type): ~1 ms per 100K nodes warm.
    NS_ASSIGN_OR_RETURN(m.node_count, conn->QueryInt("SELECT count(*) FROM nodes"));
    NS_ASSIGN_OR_RETURN(seq, conn->QueryInt("SELECT ifnull(max(seq), 0) FROM changes"));
    {
      std::lock_guard lock(s.mu);
      refresh_expensive = s.expensive_at_ms < 0 ||
                          m.sampled_at_ms - s.expensive_at_ms >= s.options.expensive_metrics_ms;
    }
    if (refresh_expensive) {
      // Both read every page of what they measure (seconds at 1M nodes), so
      // they are refreshed every expensive_metrics_ms, not every sample.
      NS_ASSIGN_OR_RETURN(int64_t vectors,
                          conn->QueryInt("SELECT count(*) FROM nodes WHERE "
                                         "embedding IS NOT NULL AND lifecycle = 0"));
      NS_ASSIGN_OR_RETURN(
          int64_t index_pages,
          conn->QueryInt("SELECT ifnull(sum(pgsize), 0) FROM dbstat WHERE name IN (SELECT name "
                         "FROM sqlite_master WHERE type = 'index' OR name LIKE 'nodes_fts%')"));
      std::lock_guard lock(s.mu);
      s.vector_count = vectors;
      s.vector_count_nodes = m.node_count;
      s.index_bytes = index_pages;
      s.expensive_at_ms = m.sampled_at_ms;
    }
    // What RebuildHotIndexes would create now: a read of the index list and
    // its bookkeeping, no write (dry run).
    NS_ASSIGN_OR_RETURN(scaling::HotIndexReport due,
                        scaling::RebuildHotIndexes(*conn, query_stats_.FieldUsages(),
                                                   scaling::HotIndexPolicy{}, m.sampled_at_ms,
                                                   /*dry_run=*/true));
    m.unindexed_hot_fields = static_cast<int64_t>(due.created.size());
  }
  std::error_code ec;
  int64_t vector_file = 0;
  for (const auto& entry : fs::recursive_directory_iterator(path_, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    const auto size = static_cast<int64_t>(entry.file_size(ec));
    m.storage_size_bytes += size;
    if (entry.path().filename() == "vectors.idx") vector_file = size;
  }

  const scaling::ProcessSample p = s.probe.Sample();
  m.memory_usage_mb = p.rss_bytes < 0 ? -1 : p.rss_bytes / kMiB;
  m.cpu_usage_percent = p.cpu_percent;
  m.disk_io_mb_per_sec = p.disk_io_mb_per_sec;
  {
    std::lock_guard lock(s.mu);
    m.vector_count = s.vector_count;
    m.index_size_bytes = s.index_bytes + vector_file;
    if (s.last_seq >= 0 && m.sampled_at_ms > s.last_seq_ms) {
      m.sync_operations_per_second = static_cast<double>(seq - s.last_seq) * 1000.0 /
                                     static_cast<double>(m.sampled_at_ms - s.last_seq_ms);
    }
    s.last_seq = seq;
    s.last_seq_ms = m.sampled_at_ms;
  }
  m.sample_cost_us = MsSince(start) * 1000.0;
  if (s.options.sample_history > 0) {
    std::lock_guard lock(s.mu);
    s.samples.push_back(m);
    while (s.samples.size() > s.options.sample_history) s.samples.pop_front();
  }
  return m;
}

std::vector<ScalingMetrics> Database::Impl::RecentScalingSamples(size_t limit) {
  std::vector<ScalingMetrics> out;
  if (!scaling_) return out;
  std::lock_guard lock(scaling_->mu);
  const auto& all = scaling_->samples;
  const size_t n = std::min(limit, all.size());
  out.assign(all.end() - static_cast<std::ptrdiff_t>(n), all.end());
  return out;
}

// ---- history ---------------------------------------------------------------

Status Database::Impl::RecordEvent(ScalingEvent& e) {
  std::lock_guard lock(write_mu_);
  NS_ASSIGN_OR_RETURN(Statement * stmt,
                      writer_->Prepare("INSERT INTO scaling_events(time_ms, trigger, action, "
                                       "result, message, detail, metrics, duration_ms) VALUES "
                                       "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
  ScopedStatement s(*stmt);
  s->Bind(1, e.time_ms)
      .Bind(2, e.trigger)
      .Bind(3, std::string(OptimizationActionName(e.action)))
      .Bind(4, e.result)
      .Bind(5, e.message)
      .Bind(6, e.detail_json)
      .Bind(7, e.metrics_json)
      .BindDouble(8, e.duration_ms);
  NS_RETURN_IF_ERROR(s->Run());
  e.id = writer_->LastInsertRowId();
  return Status::OK();
}

Result<std::vector<ScalingEvent>> Database::Impl::ScalingHistory(size_t limit) {
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  NS_ASSIGN_OR_RETURN(Statement * stmt,
                      conn->Prepare("SELECT id, time_ms, trigger, action, result, message, "
                                    "detail, metrics, duration_ms FROM scaling_events ORDER BY id "
                                    "DESC LIMIT ?1"));
  ScopedStatement s(*stmt);
  s->Bind(1, static_cast<int64_t>(limit == 0 ? 100 : limit));
  std::vector<ScalingEvent> out;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    ScalingEvent e;
    e.id = s->ColumnInt(0);
    e.time_ms = s->ColumnInt(1);
    e.trigger = s->ColumnString(2);
    Result<OptimizationAction> action = ParseOptimizationAction(s->ColumnText(3));
    if (!action.ok()) return action.status().WithContext("scaling history");
    e.action = *action;
    e.result = s->ColumnString(4);
    e.message = s->ColumnString(5);
    e.detail_json = s->ColumnString(6);
    e.metrics_json = s->ColumnString(7);
    e.duration_ms = s->ColumnDouble(8);
    out.push_back(std::move(e));
  }
  return out;
}

// ---- actions ---------------------------------------------------------------

void Database::Impl::ApplyPageCacheBudget(int64_t cache_mib) {
  // The tier's cache budget bounds all of SQLite's memory in this process
  // (soft heap limit: SQLite recycles cache pages before allocating past it);
  // each connection may use up to half of it.
  sqlite3_soft_heap_limit64(cache_mib * kMiB);
  sqlite_heap_limit_mb_ = cache_mib;
  page_cache_kib_ = std::max<int64_t>(cache_mib * 1024 / 2, 2048);
  const std::string pragma = "PRAGMA cache_size = -" + std::to_string(page_cache_kib_.load());
  {
    std::lock_guard lock(write_mu_);
    if (writer_) (void)writer_->Exec(pragma);
  }
  std::lock_guard<std::mutex> lock(reader_mu_);
  for (auto& conn : idle_readers_) (void)conn->Exec(pragma);
}

Result<Database::Impl::ActionOutcome> Database::Impl::PerformAction(OptimizationAction action,
                                                                    bool dry_run,
                                                                    const ScalingMetrics& m) {
  using A = OptimizationAction;
  ScalingState& s = *scaling_;
  ActionOutcome out;
  if (options_.read_only && action != A::kAddReadReplicas && action != A::kEnableDistributedCache &&
      action != A::kMigrateToCluster) {
    return Status::NotSupported("database is open read-only");
  }
  MemoryConfig tier;
  {
    std::lock_guard lock(s.mu);
    tier = s.tier_applied ? s.tier : MemoryConfigForNodeCount(m.node_count);
  }
  // Applying a tier means the one this node count calls for.
  if (action == A::kApplyMemoryTier) tier = MemoryConfigForNodeCount(m.node_count);
  // Index builds run on a connection of their own, not under the write
  // lock: a graph over 1M vectors takes minutes, and writes must go on
  // meanwhile (it reads one snapshot; only its short meta write takes
  // SQLite's write lock).
  auto maintenance = [this]() -> Result<std::unique_ptr<storage::Connection>> {
    NS_ASSIGN_OR_RETURN(auto conn, storage::Connection::Open(db_file_, false, false));
    NS_RETURN_IF_ERROR(ConfigureConnection(*conn, false));
    return conn;
  };
  // Until the store has opened its file, Info() reports the configured
  // tuning, not the file's: the vector actions open it (and catch up) first,
  // so that they compare with the graph on disk. Applied first thing in a
  // CLI process, RebuildVectorIndexes otherwise rebuilt a 1M graph whose
  // ef_construction differed from the configured one.
  auto opened_vector_info = [&]() -> Result<VectorIndexInfo> {
    NS_ASSIGN_OR_RETURN(auto conn, maintenance());
    NS_RETURN_IF_ERROR(vectors_->ApplyChanges(*conn));
    return vectors_->Info();
  };
  auto recommend = [&out](std::string why) {
    out.result = "recommended";
    out.note = std::move(why);
    return out;
  };

  switch (action) {
    case A::kEnableQueryCache: {
      const QueryCacheStats before = query_cache_->Stats();
      const size_t bytes = std::max(before.capacity_bytes, options_.query_cache_bytes);
      const auto entries = static_cast<size_t>(tier.query_cache_entries);
      const int64_t ttl = s.config.query_result_ttl_ms;
      out.detail["before"] = CacheJson(before);
      if (before.enabled && before.capacity_bytes == bytes && before.max_entries == entries &&
          before.ttl_ms == ttl) {
        out.result = "skipped";
        out.note = "the query cache is already on at this size";
        return out;
      }
      if (dry_run) break;
      query_cache_->Configure(true, bytes, ttl);
      query_cache_->SetMaxEntries(entries);
      out.detail["after"] = CacheJson(query_cache_->Stats());
      return out;
    }
    case A::kOptimizeIndexing: {
      if (dry_run) break;
      auto t = std::chrono::steady_clock::now();
      NS_RETURN_IF_ERROR(OptimizeTextIndex());
      out.detail["fts_optimize_ms"] = MsSince(t);
      {
        const VectorIndexInfo before = vectors_->Info();
        out.detail["vector_index_before"] = VectorInfoJson(before);
        if (before.kind == VectorIndexKind::kFlat) {
          t = std::chrono::steady_clock::now();
          NS_ASSIGN_OR_RETURN(auto conn, maintenance());
          NS_RETURN_IF_ERROR(vectors_->UseIndexKind(*conn, VectorIndexKind::kHnsw));
          out.detail["vector_index_build_ms"] = MsSince(t);
        }
        out.detail["vector_index_after"] = VectorInfoJson(vectors_->Info());
      }
      Result<ActionOutcome> hot = PerformAction(A::kRebuildHotIndexes, false, m);
      if (hot.ok()) out.detail["hot_indexes"] = hot->detail;
      return out;
    }
    case A::kRebuildHotIndexes: {
      scaling::HotIndexPolicy policy;
      std::lock_guard lock(write_mu_);
      NS_ASSIGN_OR_RETURN(scaling::HotIndexReport report,
                          scaling::RebuildHotIndexes(*writer_, query_stats_.FieldUsages(), policy,
                                                     ids::NowMs(), dry_run));
      out.detail["created"] = HotIndexesJson(report.created);
      out.detail["dropped"] = HotIndexesJson(report.dropped);
      out.detail["kept"] = HotIndexesJson(report.kept);
      if (report.created.empty() && report.dropped.empty()) {
        out.result = "skipped";
        out.note = "no property is queried often enough for an index of its own";
      } else if (dry_run) {
        out.result = "dry-run";
      }
      return out;
    }
    case A::kRebuildVectorIndexes: {
      NS_ASSIGN_OR_RETURN(const VectorIndexInfo before, opened_vector_info());
      const int64_t vectors = std::max(before.size, m.vector_count);
      if (vectors == 0) {
        out.result = "skipped";
        out.note = "the database holds no vectors";
        return out;
      }
      VectorTuning tuned = TunedParametersFor(vectors);
      // Codes on for the size (past 500K), or turned on earlier to save
      // memory, stay on.
      tuned.int8 = tuned.int8 || (before.kind == VectorIndexKind::kHnsw && before.tuning.int8);
      out.detail["before"] = VectorInfoJson(before);
      out.detail["tuning"] = TuningJson(tuned);
      if (dry_run) break;
      const auto t = std::chrono::steady_clock::now();
      // Tuning first: on a flat store it is only recorded, so the graph is
      // built once, with it.
      NS_ASSIGN_OR_RETURN(auto conn, maintenance());
      NS_RETURN_IF_ERROR(vectors_->Retune(*conn, tuned));
      if (before.kind == VectorIndexKind::kFlat) {
        NS_RETURN_IF_ERROR(vectors_->UseIndexKind(*conn, VectorIndexKind::kHnsw));
      }
      out.detail["rebuild_ms"] = MsSince(t);
      out.detail["after"] = VectorInfoJson(vectors_->Info());
      return out;
    }
    case A::kOptimizeEmbeddings: {
      std::string embedder;
      int64_t dims = 0;
      {
        NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
        NS_ASSIGN_OR_RETURN(std::optional<std::string> e, storage::ReadMeta(*conn, "embedder"));
        NS_ASSIGN_OR_RETURN(std::optional<std::string> d,
                            storage::ReadMeta(*conn, "embedding_dim"));
        embedder = e.value_or("");
        dims = d ? std::stoll(*d) : 0;
      }
      const bool builtin = embedder == "lsa";
      if (builtin) {
        // Refit on today's corpus, which covers the words it gained since
        // the last fit, and re-embed in batches while queries go on (WAL
        // readers never wait). The dimension stays what it is: every vector
        // index (each partition's, the vector service's) is built for it,
        // and none of them can change it while serving. What cuts the
        // distance work is the quantization that follows, as for vectors
        // from outside.
        out.detail["dims"] = dims;
        if (!dry_run) {
          NS_ASSIGN_OR_RETURN(EmbedReport report, FitBuiltinEmbedder(static_cast<int>(dims)));
          out.detail["embedded"] = report.embedded;
          out.detail["model"] = report.model;
          out.detail["fit_seconds"] = report.fit_seconds;
        }
      }
      // Vectors from outside cannot be re-embedded here; quantization cuts
      // the graph walk's memory traffic instead (int8 codes, float re-score).
      NS_ASSIGN_OR_RETURN(const VectorIndexInfo before, opened_vector_info());
      if (before.kind != VectorIndexKind::kHnsw || before.tuning.int8) {
        const char* why = before.kind != VectorIndexKind::kHnsw
                              ? "the vectors are scanned exactly: there is no graph to quantize"
                              : "the vectors are already quantized";
        out.detail["quantized"] = false;
        if (builtin) {  // the refit was the action
          out.note = std::string(dry_run ? "would refit; " : "refitted; ") + why;
          if (dry_run) out.result = "dry-run";
          return out;
        }
        out.result = "skipped";
        out.note = std::string("vectors come from outside (nothing to refit) and ") + why;
        return out;
      }
      VectorTuning tuning = before.tuning;
      tuning.int8 = true;
      out.detail["before"] = VectorInfoJson(before);
      if (dry_run) break;
      NS_ASSIGN_OR_RETURN(auto conn, maintenance());
      NS_RETURN_IF_ERROR(vectors_->Retune(*conn, tuning));
      out.detail["after"] = VectorInfoJson(vectors_->Info());
      return out;
    }
    case A::kOptimizeMemoryUsage: {
      const int64_t rss_before = scaling::ResidentBytes();
      const QueryCacheStats cache = query_cache_->Stats();
      out.detail["rss_before_mb"] = rss_before / kMiB;
      out.detail["query_cache_before"] = CacheJson(cache);
      // Kept: subtree filters and word queries need them, and rebuilding
      // either costs a pass over the table (reported so that the budget's
      // use is visible).
      out.detail["hierarchy_index_bytes"] = static_cast<int64_t>(hierarchy_.MemoryBytes());
      out.detail["text_index_bytes"] = static_cast<int64_t>(text_index_.MemoryBytes());
      if (dry_run) break;
      query_cache_->Configure(
          cache.enabled, std::max(kMinQueryCacheBytes, cache.capacity_bytes / 2), cache.ttl_ms);
      {
        std::lock_guard lock(write_mu_);
        (void)writer_->Exec("PRAGMA shrink_memory");
      }
      // Saving the index (when it is ahead of its file) may take seconds:
      // outside the write lock; the store serialises itself.
      NS_RETURN_IF_ERROR(vectors_->ReleaseMemory());
      out.detail["vector_index_after"] = VectorInfoJson(vectors_->Info());
      {
        std::lock_guard<std::mutex> lock(reader_mu_);
        for (auto& conn : idle_readers_) (void)conn->Exec("PRAGMA shrink_memory");
      }
      out.detail["sqlite_released_bytes"] = sqlite3_release_memory(INT_MAX);
      malloc_trim(0);
      const int64_t budget = s.options.thresholds.memory_mb * kMiB;
      if (scaling::ResidentBytes() > budget) {
        // Still over: graphs walk on int8 codes (a quarter of the floats'
        // bytes) and their float vectors' pages leave memory; the floats are
        // read again only to re-score each search's best candidates.
        NS_ASSIGN_OR_RETURN(auto conn, maintenance());
        NS_ASSIGN_OR_RETURN(int quantized, vectors_->QuantizeLoaded(*conn));
        out.detail["vector_indexes_quantized"] = quantized;
        out.detail["vector_index_after_quantize"] = VectorInfoJson(vectors_->Info());
        out.detail["rss_after_quantize_mb"] = scaling::ResidentBytes() / kMiB;
      }
      // Still over budget: partitions' indexes leave memory, least recently
      // used first (the next search that needs one loads it again).
      NS_ASSIGN_OR_RETURN(std::vector<int64_t> unloaded, UnloadPartitionsOverBudget(budget));
      out.detail["partitions_unloaded"] = unloaded;
      out.detail["query_cache_after"] = CacheJson(query_cache_->Stats());
      out.detail["rss_after_mb"] = scaling::ResidentBytes() / kMiB;
      return out;
    }
    case A::kBackgroundCompaction: {
      if (dry_run) break;
      std::unique_lock lock(write_mu_);
      auto t = std::chrono::steady_clock::now();
      // Merges FTS5 segments a little at a time (bounded work per run).
      NS_RETURN_IF_ERROR(
          writer_->Exec("INSERT INTO nodes_fts(nodes_fts, rank) VALUES('merge', 500)"));
      out.detail["fts_merge_ms"] = MsSince(t);
      NS_ASSIGN_OR_RETURN(int64_t auto_vacuum, writer_->QueryInt("PRAGMA auto_vacuum"));
      NS_ASSIGN_OR_RETURN(int64_t free_before, writer_->QueryInt("PRAGMA freelist_count"));
      if (auto_vacuum == 2) NS_RETURN_IF_ERROR(writer_->Exec("PRAGMA incremental_vacuum"));
      NS_ASSIGN_OR_RETURN(int64_t free_after, writer_->QueryInt("PRAGMA freelist_count"));
      out.detail["free_pages_before"] = free_before;
      out.detail["free_pages_after"] = free_after;
      out.detail["incremental_vacuum"] = auto_vacuum == 2;
      // Folds the WAL into the database without waiting for readers.
      (void)writer_->Exec("PRAGMA wal_checkpoint(PASSIVE)");
      lock.unlock();  // compacting the vector index does not touch SQLite
      NS_ASSIGN_OR_RETURN(int64_t reclaimed,
                          vectors_->ReclaimTombstones(kReclaimTombstoneFraction));
      out.detail["vector_slots_reclaimed"] = reclaimed;
      return out;
    }
    case A::kApplyMemoryTier: {
      out.detail["tier"] = {{"cache_size_mb", tier.cache_size_mb},
                            {"vector_cache_mb", tier.vector_cache_mb},
                            {"query_cache_entries", tier.query_cache_entries},
                            {"background_tasks", tier.background_tasks}};
      if (dry_run) break;
      ApplyPageCacheBudget(tier.cache_size_mb);
      query_cache_->SetMaxEntries(static_cast<size_t>(tier.query_cache_entries));
      s.pool.Resize(static_cast<size_t>(tier.background_tasks));
      {
        const VectorIndexInfo info = vectors_->Info();
        if (info.memory_bytes > tier.vector_cache_mb * kMiB) {
          // Over the vector budget: serve the index from its mapped file, so
          // the kernel may page it out instead of it pinning our heap.
          NS_RETURN_IF_ERROR(vectors_->ReleaseMemory());
          out.detail["vector_index_released_bytes"] = info.memory_bytes;
        }
      }
      out.detail["page_cache_kib_per_connection"] = page_cache_kib_.load();
      out.detail["background_threads"] = s.pool.target_threads();
      {
        std::lock_guard lock(s.mu);
        if (s.tier.cache_size_mb != tier.cache_size_mb) s.service_over_vector_cache_handled = false;
        s.tier = tier;
        s.tier_applied = true;
      }
      NS_ASSIGN_OR_RETURN(const ServiceGraphsVerdict verdict, JudgeServiceGraphs(tier, m));
      if (verdict.quantize) {
        // The vector service's float graphs would fill most of the vector
        // cache, or the service already holds more than all of it: its
        // graphs walk on int8 codes from now on and read floats only to
        // re-score, from their files (the service releases them over its
        // budget, which is this vector cache). The tuning is the
        // database's, so the engine quantizes every graph (opening and
        // catching it up here, then serving it from its file again) while
        // the service is stopped (its exit must not save its float graph
        // over the quantized one), and starts it again on what was saved.
        out.detail["vector_service_resident_mb"] = verdict.service_mb;
        out.detail["float_graph_mb"] = verdict.float_graph_mb;
        StopVectorService();
        Result<int> quantized = [&]() -> Result<int> {
          NS_ASSIGN_OR_RETURN(auto conn, maintenance());
          return vectors_->QuantizeAll(*conn);
        }();
        Status released = quantized.ok() ? vectors_->ReleaseMemory() : quantized.status();
        // Restarted whatever happened: searches need it.
        NS_RETURN_IF_ERROR(StartVectorService());
        NS_RETURN_IF_ERROR(released);
        out.detail["vector_indexes_quantized"] = *quantized;
        out.detail["vector_service_restarted"] = true;
      }
      return out;
    }
    case A::kEnablePartitioning: {
      out.detail["scheme"] = PartitionSchemeName(options_.partitions.scheme);
      out.detail["target_nodes"] = options_.partitions.target_nodes;
      if (dry_run) break;
      NS_ASSIGN_OR_RETURN(SplitReport r, SplitIntoPartitions());
      if (r.already_active) {
        out.result = "skipped";
        out.note = "the database is already partitioned";
        return out;
      }
      out.detail["resumed"] = r.resumed;
      out.detail["partitions"] = r.partitions;
      out.detail["roots_assigned"] = r.roots;
      out.detail["nodes_moved"] = r.rows_moved;
      out.detail["batches"] = r.batches;
      out.detail["plan_ms"] = r.plan_ms;
      out.detail["move_ms"] = r.move_ms;
      out.detail["index_ms"] = r.index_ms;
      out.note = std::to_string(r.partitions) + " partitions" + (r.resumed ? ", resumed" : "");
      return out;
    }
    case A::kEnableTieredStorage: {
      out.detail["cold_after_ms"] = options_.partitions.cold_after_ms;
      if (dry_run) break;
      // Tiers are made of partitions: split first when there are none.
      NS_ASSIGN_OR_RETURN(SplitReport r, SplitIntoPartitions());
      if (!r.already_active) out.detail["partitions_created"] = r.partitions;
      NS_RETURN_IF_ERROR(EnableTiering());
      NS_ASSIGN_OR_RETURN(std::vector<std::string> lines, RunTierPass());
      out.detail["tier_changes"] = lines;
      return out;
    }
    case A::kDedicatedVectorDB: {
      if (std::atomic_load(&vector_service_)) {
        out.result = "skipped";
        out.note = "the vector service is already running";
        return out;
      }
      if (dry_run) break;
      NS_RETURN_IF_ERROR(StartVectorService());
      const VectorServiceInfo info = VectorServiceState();
      out.detail["pid"] = info.pid;
      out.detail["port"] = info.port;
      out.detail["vector_index_in_process"] = VectorInfoJson(vectors_->Info());
      out.note = "pid " + std::to_string(info.pid);
      return out;
    }
    case A::kAddReadReplicas:
      return recommend("an embedded database has no replicas; the team tier serves from replicas");
    case A::kEnableDistributedCache:
      if (s.config.prefer_local_cache) {
        // Cloud costs: results stay in each process's own cache.
        out.result = "skipped";
        out.note = "the cost optimizer prefers the local cache (cloud costs are sensitive)";
        return out;
      }
      return recommend(
          "an embedded database has one process; the team tier shares its cache across servers");
    case A::kMigrateToCluster:
      return recommend("past one machine the cluster tier takes over (docs/SCALING.md)");
    case A::kMigratePhase:
      return Status::InvalidArgument(
          "a phase migration needs a target phase: use MigratePhase (`nodespace scaling migrate "
          "N`)");
  }
  out.result = "dry-run";
  return out;
}

Result<ScalingEvent> Database::Impl::RunAction(OptimizationAction action, bool dry_run,
                                               const std::string& trigger,
                                               const std::string& phrase,
                                               const ScalingMetrics& metrics) {
  ScalingEvent e;
  e.time_ms = ids::NowMs();
  e.trigger = trigger;
  e.action = action;
  e.metrics_json = scaling::MetricsToJson(metrics).dump();
  const auto start = std::chrono::steady_clock::now();
  Result<ActionOutcome> outcome = PerformAction(action, dry_run, metrics);
  // The vector service loaded the indexes as they were: after a rebuild,
  // a re-embedding or a split it starts over on what is on disk now.
  using A = OptimizationAction;
  const bool rebuilt_vectors =
      action == A::kOptimizeIndexing || action == A::kRebuildVectorIndexes ||
      action == A::kOptimizeEmbeddings || action == A::kEnablePartitioning ||
      action == A::kEnableTieredStorage;
  // A new tier also gives it the tier's vector cache as its memory budget
  // (unless the action restarted it already): told, not restarted, as a
  // restart would drop a catch-up in flight (minutes after a large import).
  bool new_budget = action == A::kApplyMemoryTier && outcome.ok() && outcome->result == "applied" &&
                    !dry_run && !outcome->detail.contains("vector_service_restarted");
  if (new_budget) {
    const std::shared_ptr<service::VectorServiceSupervisor> supervisor =
        std::atomic_load(&vector_service_);
    const std::optional<MemoryConfig> tier = MemoryTierInForce();
    if (!supervisor || !tier) {
      new_budget = false;
    } else if (Status told = supervisor->SetMemoryBudget(tier->vector_cache_mb); told.ok()) {
      outcome->detail["vector_service_memory_budget_mb"] = tier->vector_cache_mb;
      new_budget = false;
    } else {
      Log("vector service not given its new memory budget (" + told.message() + "): restarting it");
    }
  }
  if (outcome.ok() && outcome->result == "applied" && !dry_run && (rebuilt_vectors || new_budget) &&
      std::atomic_load(&vector_service_)) {
    StopVectorService();
    Status restarted = StartVectorService();
    if (!restarted.ok()) Log("vector service not restarted: " + restarted.message());
  }
  e.duration_ms = MsSince(start);
  if (outcome.ok()) {
    e.result = dry_run && outcome->result == "applied" ? "dry-run" : outcome->result;
    e.detail_json = outcome->detail.dump();
    e.message = scaling::ActionLogLine(action, e.result, phrase);
    if (!outcome->note.empty()) e.message += " (" + outcome->note + ")";
  } else {
    e.result = "failed";
    e.detail_json = json{{"error", outcome.status().message()}}.dump();
    e.message =
        scaling::ActionLogLine(action, e.result, phrase) + ": " + outcome.status().message();
  }
  Log(e.message);
  if (!options_.read_only) NS_RETURN_IF_ERROR(RecordEvent(e));
  return e;
}

Result<ScalingEvent> Database::Impl::ApplyScalingAction(OptimizationAction action, bool dry_run) {
  if (!scaling_) return Status::Internal("scaling state missing");
  std::lock_guard check_lock(scaling_->check_mu);
  NS_ASSIGN_OR_RETURN(ScalingMetrics m, CollectScalingMetrics());
  return RunAction(action, dry_run, "operator", "operator request", m);
}

// ---- the check -------------------------------------------------------------

Result<ScalingPhase> Database::Impl::RecordedPhase() {
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  NS_ASSIGN_OR_RETURN(std::optional<std::string> v, storage::ReadMeta(*conn, "scaling_phase"));
  if (!v || v->empty()) return ScalingPhase::kPersonal;
  const int n = std::atoi(v->c_str());
  if (n < 1 || n > 4) return Status::Corruption("meta scaling_phase holds '" + *v + "'");
  return static_cast<ScalingPhase>(n);
}

Result<std::vector<ScalingEvent>> Database::Impl::RunScalingCheck() {
  if (!scaling_) return Status::Internal("scaling state missing");
  if (options_.read_only) return Status::NotSupported("database is open read-only");
  ScalingState& s = *scaling_;
  std::lock_guard check_lock(s.check_mu);
  // Last of all, on every way out (an action's failure included): the
  // engine and its vector service within the tier, measured after
  // everything this check built (a hierarchy rebuild: hundreds of MB at 1M).
  struct FitMemoryOnExit {
    Impl& impl;
    ~FitMemoryOnExit() { impl.FitMemoryToTier(); }
  } fit_memory_on_exit{*this};
  NS_ASSIGN_OR_RETURN(ScalingMetrics m, CollectScalingMetrics());
  const int64_t now = m.sampled_at_ms;
  std::vector<ScalingEvent> events;

  // 1. The MemoryManager's tier for this many nodes.
  if (s.options.apply_memory_tiers) {
    const MemoryConfig want = MemoryConfigForNodeCount(m.node_count);
    bool change;
    bool vectors_checked;
    {
      std::lock_guard lock(s.mu);
      change = !s.tier_applied || s.tier.cache_size_mb != want.cache_size_mb;
      vectors_checked = s.tier_applied && s.service_over_vector_cache_handled;
    }
    if (change) {
      NS_ASSIGN_OR_RETURN(
          ScalingEvent e,
          RunAction(OptimizationAction::kApplyMemoryTier, false,
                    std::to_string(m.node_count) + " nodes",
                    "dataset size of " + scaling::CompactCount(static_cast<double>(m.node_count)) +
                        " nodes",
                    m));
      events.push_back(std::move(e));
    } else if (!vectors_checked) {
      NS_ASSIGN_OR_RETURN(const ServiceGraphsVerdict v, JudgeServiceGraphs(want, m));
      if (v.quantize) {
        // The vector service's graphs outgrew the vector cache, or are about
        // to, since the tier was applied: applied again, it quantizes them
        // (once per tier; the service then keeps within the cache by itself).
        {
          std::lock_guard lock(s.mu);
          s.service_over_vector_cache_handled = true;
        }
        const std::string cache = std::to_string(want.vector_cache_mb) + " MB";
        const bool over = v.service_mb > want.vector_cache_mb;
        NS_ASSIGN_OR_RETURN(
            ScalingEvent e,
            RunAction(OptimizationAction::kApplyMemoryTier, false,
                      over ? "vector service " + std::to_string(v.service_mb) + " MB"
                           : "float graphs " + std::to_string(v.float_graph_mb) + " MB",
                      over ? "vector service memory of " + std::to_string(v.service_mb) +
                                 " MB over the vector cache of " + cache
                           : "float vector graphs of " + std::to_string(v.float_graph_mb) +
                                 " MB past three quarters of the vector cache of " + cache,
                      m));
        events.push_back(std::move(e));
      }
    }
  }

  // 2. The strategy's triggers (state survives restarts in meta).
  std::vector<scaling::FiredTrigger> fired;
  {
    std::lock_guard lock(s.mu);
    if (!s.trigger_states_loaded) {
      NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
      NS_RETURN_IF_ERROR(LoadTriggerStates(*conn, s.evaluator));
      s.trigger_states_loaded = true;
    }
    const auto before = s.evaluator.states();
    s.evaluator.Evaluate(m, now, &fired);
    bool changed = false;
    json j = json::object();
    for (const auto& [name, st] : s.evaluator.states()) {
      auto it = before.find(name);
      changed |= it == before.end() || it->second.armed != st.armed;
      j[name] = {{"armed", st.armed}, {"fired_at_ms", st.fired_at_ms}};
    }
    if (changed) NS_RETURN_IF_ERROR(WriteMeta({{"scaling_triggers", j.dump()}}, ""));
  }
  // Actions of one check run on the background pool, as many at once as
  // the tier allows; each takes the write lock for what it changes.
  struct Pending {
    std::future<void> done;
    std::shared_ptr<Result<ScalingEvent>> event;
  };
  std::vector<Pending> pending;
  // An action two triggers name (RebuildHotIndexes: latency and a query
  // pattern) runs once per check, for the first of them.
  std::set<OptimizationAction> submitted;
  for (const scaling::FiredTrigger& f : fired) {
    for (OptimizationAction action : f.actions) {
      if (!submitted.insert(action).second) continue;
      auto slot = std::make_shared<Result<ScalingEvent>>(Status::Internal("not run"));
      pending.push_back({s.pool.Submit([this, slot, action, f, m] {
                           *slot = RunAction(action, false, f.reason, f.phrase, m);
                         }),
                         slot});
    }
  }
  // 3. Background compaction at the cost optimizer's frequency.
  bool compact = false;
  {
    std::lock_guard lock(s.mu);
    compact = now - s.last_compaction_ms >= s.config.background_task_interval_ms;
    if (compact) s.last_compaction_ms = now;
  }
  if (compact) {
    auto slot = std::make_shared<Result<ScalingEvent>>(Status::Internal("not run"));
    const std::string every =
        std::to_string(s.config.background_task_interval_ms / 60000) + " min schedule";
    pending.push_back({s.pool.Submit([this, slot, every, m] {
                         *slot = RunAction(OptimizationAction::kBackgroundCompaction, false, every,
                                           "the " + every, m);
                       }),
                       slot});
  }
  Status first_error;
  for (Pending& p : pending) {
    p.done.wait();
    if (p.event->ok()) {
      events.push_back(std::move(**p.event));
    } else if (first_error.ok()) {
      first_error = p.event->status();
    }
  }
  NS_RETURN_IF_ERROR(first_error);

  // A split cut short (a crash, a kill) resumes at the next check.
  {
    std::optional<std::string> layout;
    {
      NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
      NS_ASSIGN_OR_RETURN(layout, storage::ReadMeta(*conn, "partitioning"));
    }
    if (layout && json::parse(*layout, nullptr, false).value("state", "") == "splitting") {
      NS_ASSIGN_OR_RETURN(ScalingEvent e,
                          RunAction(OptimizationAction::kEnablePartitioning, false,
                                    "unfinished split", "a split that was cut short", m));
      events.push_back(std::move(e));
    }
  }
  // Partitions turn cold (and hot again) as they are used.
  {
    NS_ASSIGN_OR_RETURN(std::vector<std::string> lines, RunTierPass());
    for (const std::string& line : lines) {
      ScalingEvent e;
      e.time_ms = ids::NowMs();
      e.trigger = "partition idle time";
      e.action = OptimizationAction::kEnableTieredStorage;
      e.result = "applied";
      e.message = line;
      e.metrics_json = scaling::MetricsToJson(m).dump();
      NS_RETURN_IF_ERROR(RecordEvent(e));
      events.push_back(std::move(e));
    }
  }

  // 4. The phase for this size and concurrency.
  const ScalingPhase derived = PhaseFor(m.node_count, m.storage_size_bytes, m.concurrent_users);
  NS_ASSIGN_OR_RETURN(ScalingPhase recorded, RecordedPhase());
  if (derived > recorded) {
    NS_ASSIGN_OR_RETURN(ScalingEvent e,
                        MigratePhaseFrom(derived,
                                         std::to_string(m.node_count) + " nodes, " +
                                             std::to_string(m.concurrent_users) + " users",
                                         m));
    events.push_back(std::move(e));
  }

  // 5. The in-memory indexes queries use, brought to the newest change.
  BringDerivedIndexesForward();
  // 6. The memory fit: FitMemoryOnExit, as this returns.
  return events;
}

void Database::Impl::BringDerivedIndexesForward() {
  const bool tree = options_.hierarchy_index && hierarchy_.built();
  const bool text = options_.text_index && text_index_.built();
  if (!tree && !text) return;
  auto log_failure = [this](const char* what, const Status& st) {
    Log(std::string("derived indexes: could not bring the ") + what + " forward: " + st.ToString());
  };
  Result<ReaderLease> conn = AcquireReader();
  if (!conn.ok()) return log_failure("indexes", conn.status());
  storage::ReadTransaction snapshot(**conn);
  if (Status st = snapshot.Begin(); !st.ok()) return log_failure("indexes", st);
  Result<int64_t> seq = (*conn)->QueryInt("SELECT ifnull(max(seq), 0) FROM changes");
  if (!seq.ok()) return log_failure("indexes", seq.status());
  if (tree) {
    const int64_t before = hierarchy_.rebuilds();
    const auto start = std::chrono::steady_clock::now();
    // The view is let go at once: only the catch-up (or rebuild) matters.
    if (auto view = hierarchy_.ViewAt(**conn, *seq); !view.ok()) {
      log_failure("hierarchy index", view.status());
    } else if (hierarchy_.rebuilds() != before) {
      Log("derived indexes: hierarchy index brought forward to change " + std::to_string(*seq) +
          " in " + std::to_string(static_cast<int64_t>(MsSince(start))) + " ms");
    }
  }
  if (text) {
    // Past its rebuild threshold this starts the background build; below
    // it, the catch-up runs here.
    if (auto view = text_index_.ViewAt(**conn, *seq); !view.ok()) {
      log_failure("text index", view.status());
    }
  }
}

Result<ScalingStatus> Database::Impl::GetScalingStatus() {
  if (!scaling_) return Status::Internal("scaling state missing");
  ScalingState& s = *scaling_;
  ScalingStatus st;
  NS_ASSIGN_OR_RETURN(st.metrics, CollectScalingMetrics());
  NS_ASSIGN_OR_RETURN(st.phase, RecordedPhase());
  st.derived_phase =
      PhaseFor(st.metrics.node_count, st.metrics.storage_size_bytes, st.metrics.concurrent_users);
  st.config = s.config;
  st.manager_running = s.running;
  st.check_interval_ms = s.running ? std::max<int64_t>(0, options_.scaling.interval_ms) : 0;
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  std::lock_guard lock(s.mu);
  if (!s.trigger_states_loaded) {
    NS_RETURN_IF_ERROR(LoadTriggerStates(*conn, s.evaluator));
    s.trigger_states_loaded = true;
  }
  st.memory = s.tier_applied ? s.tier : MemoryConfigForNodeCount(st.metrics.node_count);
  st.memory_tier_applied = s.tier_applied;
  if (s.tier_applied) st.sqlite_heap_limit_mb = sqlite_heap_limit_mb_.load();
  st.vector_service_resident_mb = VectorServiceResidentMb();
  st.background_threads = static_cast<int64_t>(s.pool.target_threads());
  st.triggers = s.evaluator.Evaluate(st.metrics, st.metrics.sampled_at_ms, nullptr);
  st.next = s.evaluator.Next(st.metrics);
  return st;
}

ScalingConfig Database::Impl::CostConfig() const {
  return scaling_ ? scaling_->config : OptimizeForBudget(options_.scaling.budget);
}

// ---- phase migration -------------------------------------------------------

namespace {

// What the strategy's ScalingMigrator does for each step up.
std::vector<OptimizationAction> MigrationActions(ScalingPhase from, ScalingPhase to) {
  using A = OptimizationAction;
  std::vector<OptimizationAction> out;
  for (int p = static_cast<int>(from); p < static_cast<int>(to); ++p) {
    switch (p) {
      case 1:
        out.insert(out.end(), {A::kEnablePartitioning, A::kEnableQueryCache});
        break;
      case 2:
        out.insert(out.end(), {A::kEnableDistributedCache, A::kDedicatedVectorDB});
        break;
      case 3:
        out.insert(out.end(), {A::kMigrateToCluster});
        break;
      default:
        break;
    }
  }
  return out;
}

}  // namespace

Result<ScalingEvent> Database::Impl::MigratePhase(ScalingPhase target) {
  if (!scaling_) return Status::Internal("scaling state missing");
  if (options_.read_only) return Status::NotSupported("database is open read-only");
  std::lock_guard check_lock(scaling_->check_mu);
  NS_ASSIGN_OR_RETURN(ScalingMetrics m, CollectScalingMetrics());
  return MigratePhaseFrom(target, "operator", m);
}

Result<ScalingEvent> Database::Impl::MigratePhaseFrom(ScalingPhase target,
                                                      const std::string& trigger,
                                                      const ScalingMetrics& m) {
  NS_ASSIGN_OR_RETURN(ScalingPhase from, RecordedPhase());
  ScalingEvent e;
  e.time_ms = ids::NowMs();
  e.trigger = trigger;
  e.action = OptimizationAction::kMigratePhase;
  e.metrics_json = scaling::MetricsToJson(m).dump();
  const auto start = std::chrono::steady_clock::now();
  json detail = {{"from", static_cast<int>(from)}, {"to", static_cast<int>(target)}};
  const std::string phrase =
      std::string(ScalingPhaseName(from)) + " -> " + std::string(ScalingPhaseName(target));
  auto hook = [this](std::string_view step) {
    if (options_.scaling.migration_hook) options_.scaling.migration_hook(step);
  };

  // Writes of this process wait from the backup to the verdict, so a
  // rollback can never undo an acknowledged write; reads go on.
  std::unique_lock writes(write_mu_);

  // 1. Backup: a consistent copy taken while serving.
  // Beside the database directory, not in it: a backup never copies itself.
  std::string base = path_;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  const std::string backup_dir = base + ".phase-" + std::to_string(static_cast<int>(from)) +
                                 "-to-" + std::to_string(static_cast<int>(target)) + "-backup-" +
                                 std::to_string(e.time_ms);
  NS_ASSIGN_OR_RETURN(BackupReport backup, Backup(backup_dir));
  detail["backup"] = {{"path", backup.path}, {"bytes", backup.bytes}, {"seconds", backup.seconds}};
  NS_ASSIGN_OR_RETURN(DatabaseFingerprint before, Fingerprint());
  // Sample queries whose answers must not change: words of a few titles,
  // and a filtered, sorted listing.
  std::vector<Query> samples;
  {
    NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
    NS_ASSIGN_OR_RETURN(Statement * stmt,
                        conn->Prepare("SELECT title FROM nodes WHERE title != '' AND lifecycle = 0 "
                                      "ORDER BY rowid LIMIT ?1"));
    ScopedStatement st(*stmt);
    st->Bind(1, int64_t{kSampleQueries - 1});
    while (true) {
      NS_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      std::string word = st->ColumnString(0);
      word = word.substr(0, word.find(' '));
      Query q;
      q.text = word;
      q.text_any = true;
      q.limit = 10;
      q.use_cache = false;
      samples.push_back(std::move(q));
    }
  }
  {
    Query q;
    q.sort = {SortKey{"created_at", false}, SortKey{"id", false}};
    q.limit = 10;
    q.use_cache = false;
    samples.push_back(std::move(q));
  }
  auto answers = [&]() -> Result<std::vector<std::vector<std::string>>> {
    std::vector<std::vector<std::string>> out;
    for (const Query& q : samples) {
      Result<QueryResult> r = RunQuery(q);
      std::vector<std::string> ids;
      if (r.ok()) {
        for (const QueryHit& h : r->hits) ids.push_back(h.node.id);
      } else {
        ids.push_back("error: " + r.status().message());
      }
      out.push_back(std::move(ids));
    }
    return out;
  };
  NS_ASSIGN_OR_RETURN(auto answers_before, answers());
  hook("backup");

  // 2. Migrate: the strategy's steps for each phase crossed.
  json steps = json::array();
  for (OptimizationAction a : MigrationActions(from, target)) {
    Result<ActionOutcome> o = PerformAction(a, false, m);
    steps.push_back({{"action", OptimizationActionName(a)},
                     {"result", o.ok() ? o->result : "failed"},
                     {"note", o.ok() ? o->note : o.status().message()}});
  }
  detail["steps"] = steps;
  hook("migrate");

  // 3. Validate: same data, same answers.
  std::string problem;
  NS_ASSIGN_OR_RETURN(DatabaseFingerprint after, Fingerprint());
  if (!(after == before)) {
    problem = "data changed during migration (nodes " + std::to_string(before.node_count) + " -> " +
              std::to_string(after.node_count) + ", checksum " + before.nodes_checksum + " -> " +
              after.nodes_checksum + ")";
  } else {
    NS_ASSIGN_OR_RETURN(auto answers_after, answers());
    for (size_t i = 0; i < samples.size() && problem.empty(); ++i) {
      if (answers_after[i] != answers_before[i]) {
        problem = "sample query " + std::to_string(i + 1) + " answers differently";
      }
    }
  }
  detail["validated"] = {{"nodes", after.node_count},
                         {"edges", after.edge_count},
                         {"nodes_checksum", after.nodes_checksum},
                         {"sample_queries", samples.size()}};
  hook("validate");

  if (!problem.empty() && after.change_seq != before.change_seq) {
    // Another process wrote meanwhile (its writes are in the change log):
    // rolling back would discard them. Keep the data, keep the phase; the
    // next check tries again.
    detail["rolled_back"] = false;
    std::error_code ec;
    fs::remove_all(backup_dir, ec);
    e.result = "failed";
    e.message = "Phase migration not validated: the database changed during it (change " +
                std::to_string(before.change_seq) + " -> " + std::to_string(after.change_seq) +
                ", written by another process); nothing rolled back, phase unchanged";
  } else if (problem.empty()) {
    // 4. Update the configuration.
    NS_RETURN_IF_ERROR(
        WriteMeta({{"scaling_phase", std::to_string(static_cast<int>(target))}}, ""));
    std::error_code ec;
    fs::remove_all(backup_dir, ec);
    e.result = "applied";
    e.message = "Phase migration applied due to " + phrase;
  } else {
    // Roll back: the backup's content replaces the database's, derived
    // state starts over.
    Status restored = RestoreInPlace(backup_dir);
    // The vector index file must match the restored history: the backup's
    // copy (taken before its snapshot, so it only catches up), or none (the
    // next search rebuilds it).
    {
      std::error_code ec;
      const fs::path live = fs::path(path_) / "vectors.idx";
      const fs::path saved = fs::path(backup_dir) / "vectors.idx";
      if (fs::exists(saved, ec)) {
        const fs::path tmp = live.string() + ".restore.tmp";
        fs::copy_file(saved, tmp, fs::copy_options::overwrite_existing, ec);
        if (!ec) fs::rename(tmp, live, ec);
        if (ec) fs::remove(live, ec);
      } else {
        fs::remove(live, ec);
      }
    }
    vectors_->Invalidate();
    query_cache_->Clear();
    // A vector service read the database that was just replaced: it starts
    // over on the restored one.
    if (std::atomic_load(&vector_service_)) {
      StopVectorService();
      Status restarted = StartVectorService();
      if (!restarted.ok()) Log("vector service not restarted: " + restarted.message());
    }
    NS_ASSIGN_OR_RETURN(DatabaseFingerprint rolled_back, Fingerprint());
    detail["rolled_back"] = restored.ok() && rolled_back == before;
    detail["backup_kept"] = backup_dir;
    e.result = "failed";
    e.message =
        "Phase migration failed validation (" + problem + "); " +
        (restored.ok() ? "rolled back to the backup" : "rollback failed: " + restored.message());
  }
  e.duration_ms = MsSince(start);
  e.detail_json = detail.dump();
  Log(e.message);
  NS_RETURN_IF_ERROR(RecordEvent(e));
  return e;
}

}  // namespace nodespace

namespace nodespace {

Result<ScalingMetrics> Database::CollectScalingMetrics() const {
  return impl_->CollectScalingMetrics();
}
Result<ScalingStatus> Database::GetScalingStatus() const {
  return impl_->GetScalingStatus();
}
Result<std::vector<ScalingEvent>> Database::ScalingHistory(size_t limit) const {
  return impl_->ScalingHistory(limit);
}
std::vector<ScalingMetrics> Database::RecentScalingSamples(size_t limit) const {
  return impl_->RecentScalingSamples(limit);
}
Result<std::vector<ScalingEvent>> Database::RunScalingCheck() {
  return impl_->RunScalingCheck();
}
Result<ScalingEvent> Database::ApplyScalingAction(OptimizationAction action, bool dry_run) {
  return impl_->ApplyScalingAction(action, dry_run);
}
Result<ScalingEvent> Database::MigratePhase(ScalingPhase target) {
  return impl_->MigratePhase(target);
}

}  // namespace nodespace
