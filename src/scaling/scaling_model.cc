// The strategy's fixed tables: action names, MemoryConfig tiers, the
// CostOptimizer and the phases.
#include <algorithm>
#include <array>
#include <utility>

#include "nodespace/scaling.h"

namespace nodespace {
namespace {

constexpr std::array<std::pair<OptimizationAction, std::string_view>, 15> kActionNames = {{
    {OptimizationAction::kEnableQueryCache, "EnableQueryCache"},
    {OptimizationAction::kOptimizeIndexing, "OptimizeIndexing"},
    {OptimizationAction::kRebuildHotIndexes, "RebuildHotIndexes"},
    {OptimizationAction::kEnablePartitioning, "EnablePartitioning"},
    {OptimizationAction::kEnableTieredStorage, "EnableTieredStorage"},
    {OptimizationAction::kRebuildVectorIndexes, "RebuildVectorIndexes"},
    {OptimizationAction::kOptimizeEmbeddings, "OptimizeEmbeddings"},
    {OptimizationAction::kDedicatedVectorDB, "DedicatedVectorDB"},
    {OptimizationAction::kOptimizeMemoryUsage, "OptimizeMemoryUsage"},
    {OptimizationAction::kAddReadReplicas, "AddReadReplicas"},
    {OptimizationAction::kEnableDistributedCache, "EnableDistributedCache"},
    {OptimizationAction::kMigrateToCluster, "MigrateToCluster"},
    {OptimizationAction::kBackgroundCompaction, "BackgroundCompaction"},
    {OptimizationAction::kApplyMemoryTier, "ApplyMemoryTier"},
    {OptimizationAction::kMigratePhase, "MigratePhase"},
}};

constexpr int64_t kMinute = 60 * 1000;

}  // namespace

std::string_view OptimizationActionName(OptimizationAction action) {
  for (const auto& [a, name] : kActionNames) {
    if (a == action) return name;
  }
  return "Unknown";
}

Result<OptimizationAction> ParseOptimizationAction(std::string_view name) {
  std::string known;
  for (const auto& [a, n] : kActionNames) {
    if (n == name) return a;
    known += (known.empty() ? "" : ", ") + std::string(n);
  }
  return Status::InvalidArgument("unknown scaling action '" + std::string(name) +
                                 "' (known: " + known + ")");
}

std::vector<OptimizationAction> AllOptimizationActions() {
  std::vector<OptimizationAction> out;
  for (const auto& entry : kActionNames) out.push_back(entry.first);
  return out;
}

MemoryConfig MemoryConfigForNodeCount(int64_t node_count) {
  if (node_count < 10000) return {100, 50, 1000, 1};
  if (node_count < 100000) return {500, 200, 10000, 2};
  if (node_count < 1000000) return {2000, 1000, 100000, 4};
  return {8000, 4000, 1000000, 8};
}

ScalingConfig OptimizeForBudget(const BudgetConstraints& constraints) {
  ScalingConfig c;
  c.prefer_local_cache = constraints.cloud_costs_sensitive;
  c.aggressive_archival = constraints.storage_costs_sensitive;
  c.query_result_ttl_ms = constraints.compute_costs_sensitive ? 60 * kMinute : 15 * kMinute;
  c.background_task_interval_ms =
      constraints.compute_costs_sensitive ? 240 * kMinute : 30 * kMinute;
  return c;
}

std::string_view ScalingPhaseName(ScalingPhase phase) {
  switch (phase) {
    case ScalingPhase::kPersonal:
      return "Phase 1: Personal/Small Team (< 10K nodes)";
    case ScalingPhase::kMediumTeam:
      return "Phase 2: Medium Team (10K-100K nodes)";
    case ScalingPhase::kLargeTeam:
      return "Phase 3: Large Team (100K-1M nodes)";
    case ScalingPhase::kEnterprise:
      return "Phase 4: Enterprise (1M+ nodes)";
  }
  return "unknown phase";
}

ScalingPhase PhaseFor(int64_t node_count, int64_t storage_bytes, int64_t concurrent_users) {
  // The dataset size (nodes or storage, whichever is further along) and the
  // concurrency each name a phase; the larger one wins.
  int by_size = 1;
  if (node_count >= 1000000 || storage_bytes >= 10'000'000'000) {
    by_size = 4;
  } else if (node_count >= 100000 || storage_bytes >= 1'000'000'000) {
    by_size = 3;
  } else if (node_count >= 10000 || storage_bytes >= 100'000'000) {
    by_size = 2;
  }
  // Concurrency scale: Personal (1) and Small Team (2-10) are Phase 1,
  // Medium Team (10-50) Phase 2, Enterprise (50+) Phase 4. The strategy names
  // no user count of its own for Phase 3.
  int by_users = 1;
  if (concurrent_users > 50) {
    by_users = 4;
  } else if (concurrent_users > 10) {
    by_users = 2;
  }
  return static_cast<ScalingPhase>(std::max(by_size, by_users));
}

}  // namespace nodespace
