#include "scaling/triggers.h"

#include <cmath>
#include <cstdio>
#include <functional>

namespace nodespace::scaling {
namespace {

struct TriggerSpec {
  std::string name;
  std::string metric;
  double value;
  double threshold;
  bool judged;  // enough data to judge the metric
  std::string phrase;
  std::string reason;
  std::vector<OptimizationAction> actions;
  // A count of things to do rather than a level: re-armed as soon as it is
  // back at the threshold, with no hysteresis or delay, so that the next
  // field to turn hot is acted on at once.
  bool rearm_at_threshold = false;
};

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::vector<TriggerSpec> Specs(const ScalingThresholds& t, const ScalingMetrics& m) {
  using A = OptimizationAction;
  std::vector<TriggerSpec> out;
  {
    std::vector<A> actions = {A::kEnableQueryCache, A::kRebuildHotIndexes};
    if (m.queries_per_second > t.high_query_load_qps) actions.push_back(A::kAddReadReplicas);
    out.push_back({"query_latency", "avg_query_latency_ms", m.avg_query_latency_ms,
                   t.avg_query_latency_ms, m.window_queries >= t.min_window_queries,
                   "latency > " + Fixed(t.avg_query_latency_ms, 0) + "ms",
                   "avg query latency " + Fixed(m.avg_query_latency_ms, 1) + " ms > " +
                       Fixed(t.avg_query_latency_ms, 0) + " ms over " +
                       std::to_string(m.window_queries) + " operations",
                   actions});
  }
  // The phase 2 "index optimization based on query patterns": a property
  // filtered or sorted on often enough gets its index at the next check.
  out.push_back({"hot_fields",
                 "unindexed_hot_fields",
                 static_cast<double>(m.unindexed_hot_fields),
                 static_cast<double>(t.unindexed_hot_fields),
                 true,
                 "query pattern: " + std::to_string(m.unindexed_hot_fields) +
                     " hot field(s) without an index",
                 std::to_string(m.unindexed_hot_fields) +
                     " property field(s) queried often enough for an index of their own",
                 {A::kRebuildHotIndexes},
                 true});
  out.push_back(
      {"optimize_indexing",
       "node_count",
       static_cast<double>(m.node_count),
       static_cast<double>(t.optimize_indexing_nodes),
       true,
       "dataset size > " + CompactCount(static_cast<double>(t.optimize_indexing_nodes)) + " nodes",
       std::to_string(m.node_count) + " nodes > " + std::to_string(t.optimize_indexing_nodes),
       {A::kOptimizeIndexing}});
  out.push_back(
      {"partitioning",
       "node_count",
       static_cast<double>(m.node_count),
       static_cast<double>(t.partitioning_nodes),
       true,
       "dataset size > " + CompactCount(static_cast<double>(t.partitioning_nodes)) + " nodes",
       std::to_string(m.node_count) + " nodes > " + std::to_string(t.partitioning_nodes),
       {A::kEnablePartitioning}});
  out.push_back({"tiered_storage",
                 "storage_size_bytes",
                 static_cast<double>(m.storage_size_bytes),
                 static_cast<double>(t.tiered_storage_bytes),
                 true,
                 "storage size > " + CompactBytes(static_cast<double>(t.tiered_storage_bytes)),
                 std::to_string(m.storage_size_bytes) + " bytes stored > " +
                     std::to_string(t.tiered_storage_bytes),
                 {A::kEnableTieredStorage}});
  {
    A action = A::kOptimizeEmbeddings;
    if (m.vector_count > t.dedicated_vector_db_vectors) {
      action = A::kDedicatedVectorDB;
    } else if (m.vector_count > t.rebuild_vector_index_vectors) {
      action = A::kRebuildVectorIndexes;
    }
    out.push_back({"vector_latency",
                   "avg_vector_latency_ms",
                   m.avg_vector_latency_ms,
                   t.vector_latency_ms,
                   m.window_vector_queries >= t.min_window_queries,
                   "vector latency > " + Fixed(t.vector_latency_ms, 0) + "ms with " +
                       CompactCount(static_cast<double>(m.vector_count)) + " vectors",
                   "avg vector search latency " + Fixed(m.avg_vector_latency_ms, 1) + " ms > " +
                       Fixed(t.vector_latency_ms, 0) + " ms with " +
                       std::to_string(m.vector_count) + " vectors",
                   {action}});
  }
  out.push_back(
      {"vector_count",
       "vector_count",
       static_cast<double>(m.vector_count),
       static_cast<double>(t.dedicated_vector_db_vectors),
       true,
       "vector count > " + CompactCount(static_cast<double>(t.dedicated_vector_db_vectors)),
       std::to_string(m.vector_count) + " vectors > " +
           std::to_string(t.dedicated_vector_db_vectors),
       {A::kDedicatedVectorDB}});
  out.push_back({"memory",
                 "memory_usage_mb",
                 static_cast<double>(m.memory_usage_mb),
                 static_cast<double>(t.memory_mb),
                 m.memory_usage_mb >= 0,
                 "memory usage > " + std::to_string(t.memory_mb) + "MB",
                 "resident memory " + std::to_string(m.memory_usage_mb) + " MB > " +
                     std::to_string(t.memory_mb) + " MB",
                 {A::kOptimizeMemoryUsage}});
  return out;
}

std::string Compact(double value, const char* const* units, double base) {
  int unit = 0;
  while (std::fabs(value) >= base && units[unit + 1] != nullptr) {
    value /= base;
    ++unit;
  }
  std::string s = Fixed(value, value == std::floor(value) ? 0 : 1);
  return s + units[unit];
}

std::string DisplayName(OptimizationAction action) {
  using A = OptimizationAction;
  switch (action) {
    case A::kEnableQueryCache:
      return "Query cache";
    case A::kOptimizeIndexing:
      return "Index optimization";
    case A::kRebuildHotIndexes:
      return "Hot index rebuild";
    case A::kEnablePartitioning:
      return "Storage partitioning";
    case A::kEnableTieredStorage:
      return "Tiered storage";
    case A::kRebuildVectorIndexes:
      return "Vector index rebuild";
    case A::kOptimizeEmbeddings:
      return "Embedding optimization";
    case A::kDedicatedVectorDB:
      return "Dedicated vector DB";
    case A::kOptimizeMemoryUsage:
      return "Memory optimization";
    case A::kAddReadReplicas:
      return "Read replicas";
    case A::kEnableDistributedCache:
      return "Distributed cache";
    case A::kMigrateToCluster:
      return "Cluster migration";
    case A::kBackgroundCompaction:
      return "Background compaction";
    case A::kApplyMemoryTier:
      return "Memory tier";
    case A::kMigratePhase:
      return "Phase migration";
  }
  return "Action";
}

}  // namespace

std::string CompactCount(double value) {
  static const char* const kUnits[] = {"", "K", "M", "B", nullptr};
  return Compact(value, kUnits, 1000);
}

std::string CompactBytes(double bytes) {
  static const char* const kUnits[] = {"B", "KB", "MB", "GB", "TB", nullptr};
  return Compact(bytes, kUnits, 1000);
}

std::string ActionLogLine(OptimizationAction action, const std::string& result,
                          const std::string& phrase) {
  std::string verb;
  if (result == "applied") {
    const std::string_view name = OptimizationActionName(action);
    verb = name.starts_with("Enable") || name.starts_with("Dedicated") ? "enabled" : "applied";
  } else {
    verb = result;  // recommended, skipped, failed, dry-run
  }
  return DisplayName(action) + " " + verb + " due to " + phrase;
}

std::vector<ScalingStatus::Trigger> TriggerEvaluator::Evaluate(const ScalingMetrics& m,
                                                               int64_t now_ms,
                                                               std::vector<FiredTrigger>* fired) {
  std::vector<ScalingStatus::Trigger> report;
  for (TriggerSpec& spec : Specs(t_, m)) {
    TriggerState& state = states_[spec.name];
    const bool above = spec.judged && spec.value > spec.threshold;
    if (fired != nullptr && spec.judged) {
      if (state.armed && above) {
        fired->push_back({spec.name, spec.phrase, spec.reason, spec.actions});
        state.armed = false;
        state.fired_at_ms = now_ms;
      } else if (!state.armed && spec.rearm_at_threshold && spec.value <= spec.threshold) {
        state.armed = true;
      } else if (!state.armed && spec.value < (1.0 - t_.hysteresis) * spec.threshold &&
                 now_ms - state.fired_at_ms >= t_.rearm_ms) {
        state.armed = true;
      }
    }
    report.push_back(
        {spec.name, spec.metric, spec.value, spec.threshold, above, state.armed, spec.actions});
  }
  return report;
}

std::string TriggerEvaluator::Next(const ScalingMetrics& m) const {
  // The armed trigger whose metric is closest to its threshold.
  double best = -1;
  std::string out = "nothing: every trigger has fired";
  for (const TriggerSpec& spec : Specs(t_, m)) {
    auto it = states_.find(spec.name);
    if (it != states_.end() && !it->second.armed) continue;
    if (spec.threshold <= 0) continue;
    const double progress = spec.judged ? spec.value / spec.threshold : 0;
    if (progress > best) {
      best = progress;
      std::string actions;
      for (OptimizationAction a : spec.actions) {
        actions += (actions.empty() ? "" : ", ") + std::string(OptimizationActionName(a));
      }
      out = spec.name + " (" + spec.metric + " " + Fixed(spec.value, 1) + " of " +
            Fixed(spec.threshold, 0) + (spec.judged ? "" : ", not enough operations yet") +
            ") -> " + actions;
    }
  }
  return out;
}

}  // namespace nodespace::scaling
