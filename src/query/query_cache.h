// QueryCache: finished query results keyed by the canonical query JSON.
//
// Byte-bounded LRU with a time-to-live. Every entry records the change
// sequence it was computed at; a lookup at any other sequence drops it, so a
// caller never gets a result older than a write it has seen acknowledged
// (its own included). Thread safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "nodespace/query.h"

namespace nodespace::query {

class QueryCache {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  QueryCache(bool enabled, size_t capacity_bytes, int64_t ttl_ms, Clock clock = nullptr);

  // The result stored for `key` if it was computed at `current_seq` and has
  // not expired; null otherwise (counted as a miss).
  std::shared_ptr<const QueryResult> Get(const std::string& key, int64_t current_seq);
  // Stores a result computed at change sequence `seq`. Results larger than a
  // quarter of the capacity are not kept (they would evict everything else).
  void Put(const std::string& key, int64_t seq, std::shared_ptr<const QueryResult> result);

  // Run-time reconfiguration; shrinking evicts at once, disabling empties.
  void Configure(bool enabled, size_t capacity_bytes, int64_t ttl_ms);
  // Bounds the number of entries too (0: bytes only). The MemoryManager's
  // query_cache_entries.
  void SetMaxEntries(size_t max_entries);
  void Clear();
  QueryCacheStats Stats() const;
  int64_t ttl_ms() const;

 private:
  struct Entry {
    std::string key;
    int64_t seq;
    std::chrono::steady_clock::time_point expires;
    size_t bytes;
    std::shared_ptr<const QueryResult> result;
  };
  using List = std::list<Entry>;

  void EvictToFitLocked(size_t capacity);
  void EraseLocked(List::iterator it);
  std::chrono::steady_clock::time_point Now() const;

  mutable std::mutex mu_;
  Clock clock_;
  bool enabled_;
  size_t capacity_bytes_;
  int64_t ttl_ms_;
  size_t max_entries_ = 0;
  size_t bytes_ = 0;
  List lru_;  // most recently used first
  std::unordered_map<std::string, List::iterator> index_;
  QueryCacheStats stats_;
};

// Approximate heap bytes a result holds (what the byte bound counts).
size_t EstimateResultBytes(const QueryResult& result);

}  // namespace nodespace::query
