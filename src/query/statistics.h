// Statistics the query planner estimates costs from, kept by the engine.
//
// Most estimates come from a uniform sample of rows: a condition's
// selectivity is the fraction of sampled rows it accepts, which works for any
// property, range or operator without a per-property histogram. What a sample
// sees too rarely is counted through an index, up to a cap, and remembered:
// rare node types, subtree sizes, edges (mentions, collections). All of it is
// refreshed once the change log has moved on by a tenth of the database, and
// per-condition estimates are memoised until then.
//
// The same object records how often each query and each field is used: the
// planner reports query frequency, and the scaling manager builds indexes for
// the properties that queries filter and sort on most.
//
// Thread safety: every method may be called from several threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "nodespace/query.h"
#include "query/filter_sql.h"
#include "storage/sqlite.h"

namespace nodespace::query {

class Statistics {
 public:
  static constexpr size_t kSampleRows = 1000;
  // Counting through an index stops here; beyond it the sample estimates.
  static constexpr int64_t kCountCap = 2000;

  // Brings the exact counts and the sample up to date when they are missing
  // or stale relative to `change_seq`.
  Status Refresh(storage::Connection& conn, int64_t change_seq);

  int64_t node_count() const;    // active nodes
  int64_t vector_count() const;  // active nodes with a vector
  // Fraction of active nodes `filter` accepts, in [0, 1].
  Result<double> Selectivity(storage::Connection& conn, const Filter& filter,
                             const CollectionResolver& resolve);
  // Documents an FTS5 expression matches (counted up to a cap, memoised).
  Result<int64_t> TextMatches(storage::Connection& conn, const std::string& fts_expression);

  // Returns how many times `query_key` was seen before this call.
  int64_t RecordQuery(const std::string& query_key);
  // Counts each field the query filters or sorts on and stamps it with the
  // system clock's time (FieldUsage::last_used_ms).
  void RecordFieldUse(const Query& query);
  // Calls `alert` (outside the lock, on the recording thread) whenever a
  // property field's uses (filters + sorts) reach `uses`: the scaling
  // manager then checks at once whether it is due an index, instead of at
  // its next interval. `uses` 0 or an empty function turns it off.
  void SetFieldUseAlert(uint64_t uses, std::function<void()> alert);
  // Most used first (filter_count + sort_count), equal counts by field name.
  std::vector<FieldUsage> FieldUsages() const;

  // An exact subtree size counted elsewhere (the hierarchy index), used by
  // Selectivity instead of an estimate until the next change.
  void RememberSubtreeSize(const std::string& id, int depth, int64_t size);

  // Whether an index on `nodes` indexes PropertyIndexExpression(field)
  // alone (json_extract(properties, '$."a"."b"')): SQLite then finds the
  // rows with given values without scanning the table. Such indexes are the
  // hot indexes the scaling manager builds (RebuildHotIndexes) or ones made
  // by hand. False for fields that are not properties. The list of indexes
  // is read again when the schema version changes.
  Result<bool> PropertyIndexed(storage::Connection& conn, const std::string& field);

 private:
  Result<double> ConditionSelectivity(storage::Connection& conn, const Filter& condition,
                                      const CollectionResolver& resolve);
  Result<int64_t> SubtreeSize(storage::Connection& conn, const std::string& id, int depth);

  mutable std::mutex mu_;
  int64_t refreshed_seq_ = -1;
  int64_t node_count_ = 0;
  int64_t vector_count_ = 0;
  std::string sample_json_;  // JSON array of sampled rowids
  // For each sampled row, its ancestors' ids from the parent up (subtree
  // selectivity: the share of sampled rows with the node among them).
  std::vector<std::vector<std::string>> sample_ancestors_;
  std::unordered_map<std::string, double> condition_cache_;
  std::unordered_map<std::string, int64_t> text_cache_;
  std::unordered_map<std::string, int64_t> subtree_cache_;
  std::unordered_map<std::string, int64_t> query_counts_;
  std::map<std::string, FieldUsage> field_usage_;
  uint64_t alert_uses_ = 0;
  std::function<void()> alert_;
  int64_t index_schema_version_ = -1;   // when index_sql_ was read
  std::vector<std::string> index_sql_;  // the CREATE INDEX statements on nodes
};

}  // namespace nodespace::query
