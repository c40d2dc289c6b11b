#include "scaling/memory_budget.h"

#include <algorithm>

namespace nodespace::scaling {

int64_t TierBudgetMb(const MemoryConfig& tier) {
  return tier.cache_size_mb + tier.vector_cache_mb;
}

int64_t SqliteHeapFloorMb(const MemoryConfig& tier) {
  return std::max<int64_t>(tier.cache_size_mb / 8, 1);
}

int64_t ServiceShareMb(const MemoryConfig& tier, const MemoryUse& use) {
  if (!use.service_running) return 0;
  return std::max(use.service_resident_mb, tier.vector_cache_mb);
}

int64_t SqliteHeapLimitMb(const MemoryConfig& tier, const MemoryUse& use) {
  const int64_t engine_other_mb = std::max<int64_t>(use.engine_resident_mb - use.sqlite_mb, 0);
  const int64_t left_mb = TierBudgetMb(tier) - ServiceShareMb(tier, use) - engine_other_mb;
  return std::clamp(left_mb, SqliteHeapFloorMb(tier), std::max<int64_t>(tier.cache_size_mb, 1));
}

bool SqliteHeapLimitShouldMove(const MemoryConfig& tier, int64_t current_mb, int64_t wanted_mb) {
  // Down at once (the limit is what keeps the processes within the tier),
  // up by a sixteenth of the cache or more.
  if (wanted_mb < current_mb) return true;
  return wanted_mb - current_mb >= std::max<int64_t>(tier.cache_size_mb / 16, 1);
}

int64_t FloatGraphMb(int64_t vectors, int64_t dims, int64_t hnsw_m) {
  if (vectors <= 0 || dims <= 0) return 0;
  const int64_t per_vector = dims * 4 + (2 * std::max<int64_t>(hnsw_m, 1) + 1) * 4 + 16;
  return vectors * per_vector / (int64_t{1} << 20);
}

bool GraphsShouldWalkOnCodes(const MemoryConfig& tier, int64_t float_graph_mb,
                             int64_t service_resident_mb) {
  return float_graph_mb * 4 > tier.vector_cache_mb * 3 ||
         service_resident_mb > tier.vector_cache_mb;
}

}  // namespace nodespace::scaling
