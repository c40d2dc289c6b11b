// Change-log rows that a bulk load's batch holds back and inserts many to a
// statement.
//
// Why: inserted one by one, each change row costs a statement run of its
// own and, because `changes` numbers its rows with AUTOINCREMENT, a read and
// a rewrite of the table's row in sqlite_sequence; one INSERT of 64 rows
// pays both once. A million change rows alone took 3.2-3.7 s one to an
// INSERT and 1.2 s 64 to an INSERT (docs/BENCHMARKS.md, phases changes_1
// and changes_64); with a cheaper check for mentions, the loading thread of
// a 1M-node load used 12% less CPU.
//
// Order and atomicity are unchanged: the rows keep the order they were
// added in, so their sequence numbers come out as one by one, and they are
// inserted in the same transaction before anything reads the log (the
// batch's last sequence number, any operation that is not a create or an
// edge, the commit). An operation that fails drops the rows it added
// (Truncate), as its rollback would have dropped them from the table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nodespace/change.h"
#include "nodespace/status.h"
#include "storage/sqlite.h"

namespace nodespace {

class PendingChanges {
 public:
  // Rows per INSERT statement (6 parameters each).
  static constexpr size_t kRowsPerInsert = 64;

  // `origin` must outlive the next Flush (it is the batch's or its options').
  void Add(TimestampMs ts, ChangeOp op, std::string node_id, int64_t version,
           std::string_view origin, std::string payload) {
    rows_.push_back({ts, op, std::move(node_id), version, origin, std::move(payload)});
  }
  size_t size() const { return rows_.size(); }
  bool full() const { return rows_.size() >= kRowsPerInsert; }
  // Drops the rows added after the first `n`.
  void Truncate(size_t n) {
    if (n < rows_.size()) rows_.resize(n);
  }
  void Clear() { rows_.clear(); }

  // Inserts every row held, in order, and forgets them.
  Status Flush(storage::Connection& conn);

 private:
  struct Row {
    TimestampMs ts;
    ChangeOp op;
    std::string node_id;
    int64_t version;
    std::string_view origin;
    std::string payload;
  };
  std::vector<Row> rows_;
};

}  // namespace nodespace
