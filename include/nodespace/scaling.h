// Automatic scaling: what the engine measures about itself and what it does
// when a measurement crosses one of the scaling strategy's thresholds.
//
// A database opened for writing runs a ScalingManager in the background
// (Options::scaling). Every `interval_ms` it samples ScalingMetrics, checks
// the triggers and applies OptimizationActions; every applied action is
// recorded durably (Database::ScalingHistory) and reported through
// Options::info_log in the strategy's words, e.g.
// "Query cache enabled due to latency > 100ms". docs/SCALING.md lists every
// trigger, what each action changes and how to observe it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodespace/status.h"

namespace nodespace {

// One sample of the engine's state. Latencies are over a sliding window of
// recent operations (ScalingOptions::window_ms); rates are since the previous
// sample.
struct ScalingMetrics {
  // ---- query performance ----
  double avg_query_latency_ms = 0;  // queries and searches, window average
  double p95_query_latency_ms = 0;
  double avg_vector_latency_ms = 0;  // vector and semantic searches only
  double p95_vector_latency_ms = 0;
  int64_t window_queries = 0;         // operations in the window
  int64_t window_vector_queries = 0;  // of which vector searches
  double query_cache_hit_rate = 0;    // hits / (hits + misses) in the window
  // Property fields queries filtered or sorted on often enough for an index
  // of their own that have none yet (what RebuildHotIndexes would create).
  int64_t unindexed_hot_fields = 0;

  // ---- storage ----
  int64_t storage_size_bytes = 0;  // every file in the database directory
  int64_t node_count = 0;
  int64_t vector_count = 0;
  int64_t index_size_bytes = 0;  // SQLite indexes + FTS5 + vector index file

  // ---- system resources (this process) ----
  int64_t memory_usage_mb = 0;            // resident set size
  double cpu_usage_percent = 0;           // of one core, since the previous sample
  double disk_io_mb_per_sec = 0;          // bytes read + written by the process
  int64_t concurrent_users = 0;           // distinct clients active in the window
  double queries_per_second = 0;          // over the window
  double sync_operations_per_second = 0;  // change-log writes per second

  int64_t sampled_at_ms = 0;  // Unix time of the sample
  double sample_cost_us = 0;  // what taking this sample cost
};

// The strategy's optimisation actions, plus the ones its triggers name
// (OptimizeIndexing, RebuildHotIndexes, ...). Names round-trip through
// OptimizationActionName / ParseOptimizationAction ("EnableQueryCache").
enum class OptimizationAction : uint8_t {
  kEnableQueryCache,
  kOptimizeIndexing,
  kRebuildHotIndexes,
  kEnablePartitioning,
  kEnableTieredStorage,
  kRebuildVectorIndexes,
  kOptimizeEmbeddings,
  kDedicatedVectorDB,
  kOptimizeMemoryUsage,
  kAddReadReplicas,
  kEnableDistributedCache,
  kMigrateToCluster,
  kBackgroundCompaction,
  // The MemoryManager applying a MemoryConfig tier (node count crossed one).
  kApplyMemoryTier,
  // A phase migration (backup, migrate, validate, update config).
  kMigratePhase,
};
std::string_view OptimizationActionName(OptimizationAction action);
Result<OptimizationAction> ParseOptimizationAction(std::string_view name);
std::vector<OptimizationAction> AllOptimizationActions();

// The strategy's thresholds. Tests use tiny ones.
struct ScalingThresholds {
  double avg_query_latency_ms = 100;
  int64_t optimize_indexing_nodes = 10000;
  int64_t partitioning_nodes = 100000;
  int64_t tiered_storage_bytes = 1000000000;
  double vector_latency_ms = 200;
  int64_t dedicated_vector_db_vectors = 100000;
  int64_t rebuild_vector_index_vectors = 10000;
  int64_t memory_mb = 4000;
  // A query pattern: any property field due a hot index (more than 0).
  int64_t unindexed_hot_fields = 0;
  // Read replicas are recommended when latency is high and the load is too.
  double high_query_load_qps = 50;
  // Latency triggers wait for this many operations in the window.
  int64_t min_window_queries = 20;
  // Hysteresis: a fired trigger re-arms only after its metric has dropped
  // below (1 - hysteresis) x threshold, and never within rearm_ms of firing.
  double hysteresis = 0.2;
  int64_t rearm_ms = 600000;
};

// The strategy's MemoryConfig tiers (MemoryManager::configure_for_dataset_size).
struct MemoryConfig {
  int64_t cache_size_mb = 0;        // SQLite page cache (all connections)
  int64_t vector_cache_mb = 0;      // vector index memory held in RAM
  int64_t query_cache_entries = 0;  // query result cache entries
  int64_t background_tasks = 0;     // worker threads for scaling actions
};
MemoryConfig MemoryConfigForNodeCount(int64_t node_count);

// The strategy's CostOptimizer: budget constraints -> ScalingConfig.
struct BudgetConstraints {
  bool cloud_costs_sensitive = false;
  bool storage_costs_sensitive = false;
  bool compute_costs_sensitive = false;
};
struct ScalingConfig {
  bool prefer_local_cache = false;          // no shared (L2) cache: EnableDistributedCache skipped
  bool aggressive_archival = false;         // partitions turn cold after 1/4 of cold_after_ms
  int64_t query_result_ttl_ms = 0;          // 1 h when compute is costly, else 15 min
  int64_t background_task_interval_ms = 0;  // 4 h when compute is costly, else 30 min
};
ScalingConfig OptimizeForBudget(const BudgetConstraints& constraints);

// Phases 1-4 of the strategy, from dataset size and concurrency.
enum class ScalingPhase : uint8_t {
  kPersonal = 1,
  kMediumTeam = 2,
  kLargeTeam = 3,
  kEnterprise = 4
};
std::string_view ScalingPhaseName(ScalingPhase phase);
ScalingPhase PhaseFor(int64_t node_count, int64_t storage_bytes, int64_t concurrent_users);

struct ScalingOptions {
  // Run the background manager in a process that opens the database for
  // writing (only one process per database runs it at a time).
  bool enabled = true;
  // How often the manager samples and checks the triggers; 0 = never on its
  // own (Database::RunScalingCheck still works).
  int64_t interval_ms = 30000;
  // Latency and rate metrics cover this much recent history.
  int64_t window_ms = 60000;
  ScalingThresholds thresholds;
  BudgetConstraints budget;
  // Apply the MemoryConfig tier for the node count on open and when the
  // count crosses a tier.
  bool apply_memory_tiers = true;
  // Index size and vector count read every page of what they measure, so a
  // sample reuses them for this long.
  int64_t expensive_metrics_ms = 600000;
  // How many recent samples Database::RecentScalingSamples keeps (0: none).
  size_t sample_history = 720;
  // Called after each step of a phase migration ("backup", "migrate",
  // "validate"); tests use it to inject failures.
  std::function<void(std::string_view step)> migration_hook;
};

// One row of the scaling history.
struct ScalingEvent {
  int64_t id = 0;
  int64_t time_ms = 0;  // Unix ms when the action started
  std::string trigger;  // "avg query latency 140.2 ms > 100 ms", "operator"
  OptimizationAction action = OptimizationAction::kEnableQueryCache;
  // applied | recommended | skipped | failed | dry-run
  std::string result;
  std::string message;       // the log line, or what failed
  std::string detail_json;   // what changed, before/after measurements
  std::string metrics_json;  // the metrics that triggered it
  double duration_ms = 0;
};

// What `nodespace scaling status` shows.
struct ScalingStatus {
  ScalingPhase phase = ScalingPhase::kPersonal;          // recorded (last migration)
  ScalingPhase derived_phase = ScalingPhase::kPersonal;  // what size and users call for
  ScalingMetrics metrics;
  MemoryConfig memory;  // the tier in force (or due, before the first check)
  bool memory_tier_applied = false;
  // The tier's cache + vector cache MB is the budget of this process and its
  // vector service together; SQLite's heap limit is what the service and the
  // engine's other memory leave of it (docs/SCALING.md). 0 before a tier.
  int64_t sqlite_heap_limit_mb = 0;
  int64_t vector_service_resident_mb = 0;  // 0 when no vector service runs
  int64_t background_threads = 0;
  ScalingConfig config;          // from the budget
  bool manager_running = false;  // in this process
  // How often that manager checks the triggers on its own (0: only when
  // asked, as in `nodespace scaling ...`).
  int64_t check_interval_ms = 0;
  // One line per trigger: the metric, the threshold, armed or fired.
  struct Trigger {
    std::string name;
    std::string metric;
    double value = 0;
    double threshold = 0;
    bool above = false;  // the metric is past the threshold now
    bool armed = true;   // false: fired and waiting for hysteresis
    std::vector<OptimizationAction> actions;
  };
  std::vector<Trigger> triggers;
  std::string next;  // what will trigger next, in words
};

}  // namespace nodespace
