#include "scaling/metrics_json.h"

namespace nodespace::scaling {

nlohmann::json MetricsToJson(const ScalingMetrics& m) {
  return nlohmann::json{{"avg_query_latency_ms", m.avg_query_latency_ms},
                        {"p95_query_latency_ms", m.p95_query_latency_ms},
                        {"avg_vector_latency_ms", m.avg_vector_latency_ms},
                        {"p95_vector_latency_ms", m.p95_vector_latency_ms},
                        {"window_queries", m.window_queries},
                        {"window_vector_queries", m.window_vector_queries},
                        {"query_cache_hit_rate", m.query_cache_hit_rate},
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

}  // namespace nodespace::scaling
