#include "scaling/triggers.h"

#include <gtest/gtest.h>

#include "scaling/operation_window.h"

namespace nodespace::scaling {
namespace {

ScalingMetrics Latency(double ms, int64_t queries = 100) {
  ScalingMetrics m;
  m.avg_query_latency_ms = ms;
  m.window_queries = queries;
  m.memory_usage_mb = 10;
  return m;
}

size_t Fired(TriggerEvaluator& t, const ScalingMetrics& m, int64_t now, const std::string& name) {
  std::vector<FiredTrigger> fired;
  t.Evaluate(m, now, &fired);
  size_t n = 0;
  for (const auto& f : fired) n += f.name == name;
  return n;
}

TEST(TriggerEvaluator, FiresOnceThenWaitsForTheHysteresisBand) {
  ScalingThresholds th;  // 100 ms, hysteresis 0.2, re-arm after 10 min
  TriggerEvaluator t(th);
  EXPECT_EQ(Fired(t, Latency(50), 0, "query_latency"), 0u);
  EXPECT_EQ(Fired(t, Latency(140), 1000, "query_latency"), 1u);
  // Still slow, or hovering at the threshold: no second firing.
  EXPECT_EQ(Fired(t, Latency(140), 2000, "query_latency"), 0u);
  EXPECT_EQ(Fired(t, Latency(95), 3000, "query_latency"), 0u);
  EXPECT_EQ(Fired(t, Latency(101), 4000, "query_latency"), 0u);
  // Below 80 ms but too soon after firing: stays disarmed.
  EXPECT_EQ(Fired(t, Latency(70), 5000, "query_latency"), 0u);
  EXPECT_EQ(Fired(t, Latency(130), 6000, "query_latency"), 0u);
  // Below 80 ms after the re-arm delay: armed again, fires on the next rise.
  EXPECT_EQ(Fired(t, Latency(70), 1000 + th.rearm_ms, "query_latency"), 0u);
  EXPECT_EQ(Fired(t, Latency(130), 2000 + th.rearm_ms, "query_latency"), 1u);
}

// A count of fields due an index fires RebuildHotIndexes, and re-arms as
// soon as none is left: the next field to turn hot is not kept waiting for
// the re-arm delay.
TEST(TriggerEvaluator, HotFieldsFireForEachFieldThatTurnsHot) {
  TriggerEvaluator t(ScalingThresholds{});
  ScalingMetrics m = Latency(1);
  EXPECT_EQ(Fired(t, m, 0, "hot_fields"), 0u);
  m.unindexed_hot_fields = 1;
  std::vector<FiredTrigger> fired;
  t.Evaluate(m, 1000, &fired);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].name, "hot_fields");
  EXPECT_EQ(fired[0].actions,
            std::vector<OptimizationAction>{OptimizationAction::kRebuildHotIndexes});
  EXPECT_EQ(Fired(t, m, 2000, "hot_fields"), 0u);  // the same field, still building
  m.unindexed_hot_fields = 0;
  EXPECT_EQ(Fired(t, m, 3000, "hot_fields"), 0u);  // indexed: armed again at once
  m.unindexed_hot_fields = 2;
  EXPECT_EQ(Fired(t, m, 4000, "hot_fields"), 1u);
}

TEST(TriggerEvaluator, LatencyNeedsEnoughOperations) {
  TriggerEvaluator t(ScalingThresholds{});
  EXPECT_EQ(Fired(t, Latency(500, 3), 0, "query_latency"), 0u);
  EXPECT_EQ(Fired(t, Latency(500, 20), 0, "query_latency"), 1u);
}

TEST(TriggerEvaluator, ActionsFollowTheStrategy) {
  TriggerEvaluator t(ScalingThresholds{});
  ScalingMetrics m = Latency(150);
  m.queries_per_second = 80;  // heavy load: replicas too
  m.node_count = 150000;
  m.vector_count = 50000;
  m.avg_vector_latency_ms = 300;
  m.window_vector_queries = 50;
  m.storage_size_bytes = 2'000'000'000;
  m.memory_usage_mb = 5000;
  std::vector<FiredTrigger> fired;
  t.Evaluate(m, 0, &fired);
  std::map<std::string, std::vector<OptimizationAction>> by_name;
  for (const auto& f : fired) by_name[f.name] = f.actions;
  using A = OptimizationAction;
  EXPECT_EQ(by_name["query_latency"],
            (std::vector<A>{A::kEnableQueryCache, A::kRebuildHotIndexes, A::kAddReadReplicas}));
  EXPECT_EQ(by_name["optimize_indexing"], std::vector<A>{A::kOptimizeIndexing});
  EXPECT_EQ(by_name["partitioning"], std::vector<A>{A::kEnablePartitioning});
  EXPECT_EQ(by_name["tiered_storage"], std::vector<A>{A::kEnableTieredStorage});
  EXPECT_EQ(by_name["vector_latency"], std::vector<A>{A::kRebuildVectorIndexes});
  EXPECT_EQ(by_name.count("vector_count"), 0u);  // 50K is not > 100K
  EXPECT_EQ(by_name["memory"], std::vector<A>{A::kOptimizeMemoryUsage});

  TriggerEvaluator small(ScalingThresholds{});
  ScalingMetrics few = Latency(10);
  few.avg_vector_latency_ms = 250;
  few.window_vector_queries = 30;
  few.vector_count = 5000;
  fired.clear();
  small.Evaluate(few, 0, &fired);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].actions, std::vector<A>{A::kOptimizeEmbeddings});
  few.vector_count = 150000;
  TriggerEvaluator large(ScalingThresholds{});
  fired.clear();
  large.Evaluate(few, 0, &fired);
  bool dedicated = false;
  for (const auto& f : fired) {
    if (f.name == "vector_latency") dedicated = f.actions == std::vector<A>{A::kDedicatedVectorDB};
  }
  EXPECT_TRUE(dedicated);
}

TEST(TriggerEvaluator, StatusReportChangesNothing) {
  TriggerEvaluator t(ScalingThresholds{});
  auto report = t.Evaluate(Latency(150), 0, nullptr);
  bool above = false;
  for (const auto& r : report) above |= r.name == "query_latency" && r.above && r.armed;
  EXPECT_TRUE(above);
  EXPECT_EQ(Fired(t, Latency(150), 0, "query_latency"), 1u);
  EXPECT_NE(t.Next(Latency(10)).find("->"), std::string::npos);
}

TEST(TriggerEvaluator, LogLinesUseTheStrategysWords) {
  EXPECT_EQ(ActionLogLine(OptimizationAction::kEnableQueryCache, "applied", "latency > 100ms"),
            "Query cache enabled due to latency > 100ms");
  EXPECT_EQ(ActionLogLine(OptimizationAction::kEnablePartitioning, "applied",
                          "dataset size > 100K nodes"),
            "Storage partitioning enabled due to dataset size > 100K nodes");
  EXPECT_EQ(
      ActionLogLine(OptimizationAction::kDedicatedVectorDB, "recommended", "vector count > 100K"),
      "Dedicated vector DB recommended due to vector count > 100K");
  EXPECT_EQ(CompactCount(100000), "100K");
  EXPECT_EQ(CompactBytes(1e9), "1GB");
}

TEST(OperationWindow, SummarizesOnlyTheWindow) {
  OperationWindow w;
  for (int i = 0; i < 100; ++i) w.Record(1000 + i, i + 1, i % 10 == 0, true, i % 2 == 0, "a");
  w.Record(500, 1000, false, false, false, "old");  // outside a 599 ms window ending at 1099
  const WindowSummary s = w.Summarize(1099, 599);
  EXPECT_EQ(s.operations, 100);
  EXPECT_EQ(s.vector_operations, 10);
  EXPECT_DOUBLE_EQ(s.avg_latency_ms, 50.5);
  EXPECT_DOUBLE_EQ(s.p95_latency_ms, 95);
  EXPECT_EQ(s.cache_lookups, 100);
  EXPECT_EQ(s.cache_hits, 50);
  EXPECT_EQ(s.distinct_clients, 1);
  EXPECT_NEAR(s.operations_per_second, 100 * 1000.0 / 599, 1e-9);
  EXPECT_EQ(w.Summarize(1099, 2000).distinct_clients, 2);
}

}  // namespace
}  // namespace nodespace::scaling
