#include "query/query_cache.h"

namespace nodespace::query {

QueryCache::QueryCache(bool enabled, size_t capacity_bytes, int64_t ttl_ms, Clock clock)
    : clock_(std::move(clock)),
      enabled_(enabled),
      capacity_bytes_(capacity_bytes),
      ttl_ms_(ttl_ms) {}

std::chrono::steady_clock::time_point QueryCache::Now() const {
  return clock_ ? clock_() : std::chrono::steady_clock::now();
}

std::shared_ptr<const QueryResult> QueryCache::Get(const std::string& key, int64_t current_seq) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!enabled_) return nullptr;
  auto found = index_.find(key);
  if (found == index_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  List::iterator it = found->second;
  if (it->seq != current_seq) {
    ++stats_.invalidations;
    ++stats_.misses;
    EraseLocked(it);
    return nullptr;
  }
  if (Now() >= it->expires) {
    ++stats_.evictions;
    ++stats_.misses;
    EraseLocked(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it);
  ++stats_.hits;
  return it->result;
}

void QueryCache::Put(const std::string& key, int64_t seq,
                     std::shared_ptr<const QueryResult> result) {
  const size_t bytes = EstimateResultBytes(*result) + key.size() + sizeof(Entry) + 64;
  std::lock_guard<std::mutex> lock(mu_);
  if (!enabled_ || ttl_ms_ <= 0 || bytes > capacity_bytes_ / 4) return;
  if (auto found = index_.find(key); found != index_.end()) EraseLocked(found->second);
  EvictToFitLocked(capacity_bytes_ - bytes);
  while (max_entries_ > 0 && lru_.size() >= max_entries_) {
    ++stats_.evictions;
    EraseLocked(std::prev(lru_.end()));
  }
  lru_.push_front(
      Entry{key, seq, Now() + std::chrono::milliseconds(ttl_ms_), bytes, std::move(result)});
  index_.emplace(key, lru_.begin());
  bytes_ += bytes;
}

void QueryCache::EraseLocked(List::iterator it) {
  bytes_ -= it->bytes;
  index_.erase(it->key);
  lru_.erase(it);
}

void QueryCache::EvictToFitLocked(size_t capacity) {
  while (bytes_ > capacity && !lru_.empty()) {
    ++stats_.evictions;
    EraseLocked(std::prev(lru_.end()));
  }
}

void QueryCache::Configure(bool enabled, size_t capacity_bytes, int64_t ttl_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  enabled_ = enabled;
  capacity_bytes_ = capacity_bytes;
  ttl_ms_ = ttl_ms;
  EvictToFitLocked(enabled ? capacity_bytes : 0);
}

void QueryCache::SetMaxEntries(size_t max_entries) {
  std::lock_guard<std::mutex> lock(mu_);
  max_entries_ = max_entries;
  while (max_entries_ > 0 && lru_.size() > max_entries_) {
    ++stats_.evictions;
    EraseLocked(std::prev(lru_.end()));
  }
}

void QueryCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  lru_.clear();
  index_.clear();
  bytes_ = 0;
}

QueryCacheStats QueryCache::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  QueryCacheStats s = stats_;
  s.enabled = enabled_;
  s.capacity_bytes = capacity_bytes_;
  s.bytes = bytes_;
  s.entries = lru_.size();
  s.max_entries = max_entries_;
  s.ttl_ms = ttl_ms_;
  return s;
}

int64_t QueryCache::ttl_ms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ttl_ms_;
}

size_t EstimateResultBytes(const QueryResult& result) {
  size_t bytes = sizeof(QueryResult) + result.next_cursor.size();
  for (const QueryHit& hit : result.hits) {
    const Node& n = hit.node;
    bytes += sizeof(QueryHit) + n.id.size() + n.parent_id.size() + n.node_type.size() +
             n.content.size() + n.title.size() + n.properties.size() + n.order_key.size() +
             n.embedding.size() * sizeof(float);
    for (const std::string& id : hit.matched_ids) bytes += sizeof(std::string) + id.size();
    bytes += hit.snippet.size();
  }
  for (const FacetResult& f : result.facets) {
    bytes += sizeof(FacetResult) + f.field.size();
    for (const FacetCount& c : f.values) bytes += sizeof(FacetCount) + c.value.size();
  }
  for (const AggregationResult& a : result.aggregations) {
    bytes += sizeof(AggregationResult) + a.name.size();
    for (const HistogramBucket& b : a.buckets) bytes += sizeof(HistogramBucket) + b.key.size();
  }
  for (const QueryExplain::Stage& s : result.explain.stages) {
    bytes += sizeof(QueryExplain::Stage) + s.name.size() + s.detail.size();
  }
  return bytes;
}

}  // namespace nodespace::query
