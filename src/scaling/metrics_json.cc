#include "scaling/metrics_json.h"

#include "model/ids.h"

namespace nodespace::scaling {

nlohmann::json MetricsToJson(const ScalingMetrics& m) {
  return nlohmann::json{{"avg_query_latency_ms", m.avg_query_latency_ms},
                        {"p95_query_latency_ms", m.p95_query_latency_ms},
                        {"avg_vector_latency_ms", m.avg_vector_latency_ms},
                        {"p95_vector_latency_ms", m.p95_vector_latency_ms},
                        {"window_queries", m.window_queries},
                        {"window_vector_queries", m.window_vector_queries},
                        {"query_cache_hit_rate", m.query_cache_hit_rate},
                        {"unindexed_hot_fields", m.unindexed_hot_fields},
                        {"storage_size_bytes", m.storage_size_bytes},
                        {"node_count", m.node_count},
                        {"vector_count", m.vector_count},
                        {"index_size_bytes", m.index_size_bytes},
                        {"memory_usage_mb", m.memory_usage_mb},
                        {"cpu_usage_percent", m.cpu_usage_percent},
                        {"disk_io_mb_per_sec", m.disk_io_mb_per_sec},
                        {"concurrent_users", m.concurrent_users},
                        {"queries_per_second", m.queries_per_second},
                        {"sync_operations_per_second", m.sync_operations_per_second},
                        {"sampled_at_ms", m.sampled_at_ms},
                        {"sample_cost_us", m.sample_cost_us}};
}

nlohmann::json EventToJson(const ScalingEvent& e) {
  using nlohmann::json;
  return json{
      {"id", e.id},
      {"time", ids::FormatTimestamp(e.time_ms)},
      {"trigger", e.trigger},
      {"action", OptimizationActionName(e.action)},
      {"result", e.result},
      {"message", e.message},
      {"duration_ms", e.duration_ms},
      {"detail", json::parse(e.detail_json.empty() ? "{}" : e.detail_json, nullptr, false)},
      {"metrics", json::parse(e.metrics_json.empty() ? "{}" : e.metrics_json, nullptr, false)}};
}

nlohmann::json StatusToJson(const ScalingStatus& st) {
  using nlohmann::json;
  json triggers = json::array();
  for (const auto& t : st.triggers) {
    json actions = json::array();
    for (OptimizationAction a : t.actions) actions.push_back(OptimizationActionName(a));
    triggers.push_back({{"name", t.name},
                        {"metric", t.metric},
                        {"value", t.value},
                        {"threshold", t.threshold},
                        {"above", t.above},
                        {"armed", t.armed},
                        {"actions", actions}});
  }
  return {{"phase", static_cast<int>(st.phase)},
          {"phase_name", ScalingPhaseName(st.phase)},
          {"derived_phase", static_cast<int>(st.derived_phase)},
          {"manager_running", st.manager_running},
          {"check_interval_ms", st.check_interval_ms},
          {"metrics", MetricsToJson(st.metrics)},
          {"memory_tier",
           {{"cache_size_mb", st.memory.cache_size_mb},
            {"vector_cache_mb", st.memory.vector_cache_mb},
            {"query_cache_entries", st.memory.query_cache_entries},
            {"background_tasks", st.memory.background_tasks},
            {"applied", st.memory_tier_applied},
            {"sqlite_heap_limit_mb", st.sqlite_heap_limit_mb},
            {"vector_service_resident_mb", st.vector_service_resident_mb}}},
          {"background_threads", st.background_threads},
          {"config",
           {{"prefer_local_cache", st.config.prefer_local_cache},
            {"aggressive_archival", st.config.aggressive_archival},
            {"query_result_ttl_ms", st.config.query_result_ttl_ms},
            {"background_task_interval_ms", st.config.background_task_interval_ms}}},
          {"triggers", triggers},
          {"next", st.next}};
}

}  // namespace nodespace::scaling
