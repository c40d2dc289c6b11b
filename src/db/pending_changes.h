// Rows that a bulk load's batch holds back and inserts many to a statement:
// its change-log rows and its node rows.
//
// Why: inserted one by one, each row costs a statement run of its own: the
// statement opens a cursor on the table and each of its indexes and builds
// each record anew, allocating all of it (with SQLite's allocation mutex,
// which the load's text index build takes as often). A change row also
// reads and rewrites `changes`' row in sqlite_sequence (AUTOINCREMENT). One
// INSERT of 64 rows pays all of that once. A million change rows alone took
// 3.2-3.7 s one to an INSERT and 1.2 s 64 to an INSERT; holding node rows
// too took a 1M-node load from 22.4-26.1 s to 19.2-22.0 s
// (docs/BENCHMARKS.md).
//
// Order and atomicity are unchanged: the rows keep the order they were
// added in (node rows go in before change rows), so rowids and sequence
// numbers come out as one by one, and they are inserted in the same
// transaction before anything could see them missing. For change rows that
// is anything that reads the log (the batch's last sequence number, any
// operation that is not a create or an edge, the commit); for node rows,
// any statement that may read a node held here (Database::Impl::CreateNode
// says which creates may be held and flushes before the others; edge
// operations flush first). An operation that fails drops the rows it added
// (TruncateTo), as its rollback would have dropped them from the table.
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
  // Rows per INSERT statement (6 parameters each for a change, 12 for a
  // node).
  static constexpr size_t kRowsPerInsert = 64;

  // A node row as CreateNode writes it, without an embedding (a node with
  // one is never held: its vector is stored by rowid at once).
  struct NodeRow {
    std::string id;
    std::string parent_id;
    std::string order_key;
    std::string node_type;
    std::string content;
    std::string title;
    std::string properties;
    int64_t lifecycle = 0;
    int64_t version = 0;
    int64_t created_at = 0;
    int64_t modified_at = 0;
    int64_t partition_id = 0;
  };

  // `origin` must outlive the next Flush (it is the batch's or its options').
  void Add(TimestampMs ts, ChangeOp op, std::string node_id, int64_t version,
           std::string_view origin, std::string payload) {
    rows_.push_back({ts, op, std::move(node_id), version, origin, std::move(payload)});
  }
  void AddNode(NodeRow row) { nodes_.push_back(std::move(row)); }

  // How many rows of each kind are held: what an operation's failure goes
  // back to.
  struct Mark {
    size_t changes = 0;
    size_t nodes = 0;
  };
  Mark mark() const { return {rows_.size(), nodes_.size()}; }
  bool full() const { return rows_.size() >= kRowsPerInsert || nodes_.size() >= kRowsPerInsert; }
  bool holds_nodes() const { return !nodes_.empty(); }
  // Drops the rows added after `mark`.
  void TruncateTo(Mark mark) {
    if (mark.changes < rows_.size()) rows_.resize(mark.changes);
    if (mark.nodes < nodes_.size()) nodes_.resize(mark.nodes);
  }
  void Clear() {
    rows_.clear();
    nodes_.clear();
  }

  // Inserts every node row held, in order, and forgets them.
  Status FlushNodes(storage::Connection& conn);
  // FlushNodes, then the change rows.
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
  std::vector<NodeRow> nodes_;
};

}  // namespace nodespace
