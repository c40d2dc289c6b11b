// Hot property indexes: SQLite expression indexes on the `properties.<path>`
// fields that queries filter and sort on most (the scaling strategy's
// RebuildHotIndexes action).
//
// An index for "properties.task.status" is
//
//   CREATE INDEX nodes_hot_task_status_<hash> ON nodes(
//       json_extract(properties, '$."task"."status"'))
//
// whose expression is the query engine's FieldSql without the table alias,
// built from the same query::PropertyPathLiteral, so SQLite matches it to the
// engine's filters (=, IN, ranges) and ORDER BY; other fields are columns and
// need none. Every index named `nodes_hot_*` on `nodes` is managed here,
// whoever created it.
//
// Bookkeeping lives in the `meta` table, one row per index:
//   key   "hot_index:<index name>"
//   value {"field": "properties.task.status", "created_ms": <Unix ms>,
//          "last_used_ms": <Unix ms>}
// Field usage counts live in memory since the process started; the row keeps
// the last use across restarts. No ANALYZE is run (see hot_indexes.cc).
//
// Thread safety: free functions on a caller's connection; the caller
// serialises access to it (see storage/sqlite.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nodespace/query.h"
#include "nodespace/status.h"
#include "storage/sqlite.h"

namespace nodespace::scaling {

struct HotIndexPolicy {
  size_t max_indexes = 8;  // at most this many hot indexes
  // filter_count + sort_count before a field earns one. Until it has one, a
  // filter on the field scans every row's JSON (300 ms at 100K nodes with
  // vectors inline); five queries already make a pattern worth the index
  // (seconds to build at 1M, dropped again after a week unused).
  uint64_t min_uses = 5;
  int64_t drop_unused_after_ms = 7LL * 24 * 3600 * 1000;  // drop when not used this long
};

struct HotIndex {
  std::string name;  // "nodes_hot_..."
  // "properties.<path>"; empty for an index whose expression is not one this
  // module builds.
  std::string field;
  int64_t created_ms = 0;    // 0: unknown (no bookkeeping row)
  int64_t last_used_ms = 0;  // 0: unknown
};

struct HotIndexReport {
  std::vector<HotIndex> created;  // most used first
  std::vector<HotIndex> dropped;  // unused for too long, or displaced by hotter fields
  std::vector<HotIndex> kept;     // with last_used_ms refreshed
};

// The index name for a property field: "nodes_hot_" + the path in
// [a-z0-9_] (at most 40 characters) + "_" + 8 hex digits of a stable hash of
// the exact field, so paths that read alike ("a.b", "a_b", "A.b") differ.
// InvalidArgument when `field` is not a valid "properties.<path>".
Result<std::string> HotIndexName(const std::string& field);
// The indexed expression: json_extract(properties, '$."a"."b"').
Result<std::string> HotIndexExpression(const std::string& field);

// The hot indexes that exist (indexes on `nodes` named nodes_hot_*, by
// name) with their bookkeeping from the meta table. An index without a
// readable bookkeeping row has created_ms and last_used_ms 0, and its field
// is recovered from its SQL when it is an expression this module builds.
Result<std::vector<HotIndex>> ListHotIndexes(storage::Connection& conn);

// Brings the hot indexes in line with `usage` (Statistics::FieldUsages):
//  - refreshes each index's last_used_ms from the usage of its field;
//  - drops an index whose last use is drop_unused_after_ms or more before
//    `now_ms` (an index without bookkeeping is dropped only by this rule);
//  - ranks the fields of the remaining indexes with every property field
//    used min_uses times or more (and recently enough not to be dropped) by
//    filter_count + sort_count, descending, equal counts by name; the top
//    ones (up to max_indexes, less the indexes without bookkeeping) keep or
//    get an index, the others' indexes are dropped.
// Fields that are not valid "properties.<path>" names are skipped. Usage must
// carry last_used_ms (a use at time 0 counts as long unused).
//
// Runs in one transaction (BEGIN IMMEDIATE) on `conn`: the caller holds the
// database's write lock and has no transaction open; on error nothing has
// changed. `dry_run`: the same report, nothing written. `now_ms` is the Unix
// time in ms (a parameter so that tests control time).
Result<HotIndexReport> RebuildHotIndexes(storage::Connection& conn,
                                         const std::vector<FieldUsage>& usage,
                                         const HotIndexPolicy& policy, int64_t now_ms,
                                         bool dry_run);

}  // namespace nodespace::scaling
