#include "db/pending_changes.h"

#include <algorithm>
#include <cstddef>

namespace nodespace {
namespace {

// INSERT INTO changes(...) VALUES (?, ...), ... for `rows` rows.
std::string InsertSql(size_t rows) {
  std::string sql = "INSERT INTO changes(ts, op, node_id, version, origin, payload) VALUES ";
  for (size_t i = 0; i < rows; ++i) sql += i == 0 ? "(?,?,?,?,?,?)" : ",(?,?,?,?,?,?)";
  return sql;
}

// INSERT INTO nodes(...) VALUES (?, ...), ... for `rows` rows: the columns
// CreateNode's own INSERT writes, the embedding NULL.
std::string InsertNodesSql(size_t rows) {
  std::string sql =
      "INSERT INTO nodes(id, parent_id, order_key, node_type, content, title, properties, "
      "lifecycle, version, created_at, modified_at, embedding, partition_id) VALUES ";
  for (size_t i = 0; i < rows; ++i) {
    sql += i == 0 ? "(?,?,?,?,?,?,?,?,?,?,?,NULL,?)" : ",(?,?,?,?,?,?,?,?,?,?,?,NULL,?)";
  }
  return sql;
}

}  // namespace

Status PendingChanges::FlushNodes(storage::Connection& conn) {
  static const std::string kFullInsert = InsertNodesSql(kRowsPerInsert);
  size_t at = 0;
  while (at < nodes_.size()) {
    const size_t n = std::min(kRowsPerInsert, nodes_.size() - at);
    NS_ASSIGN_OR_RETURN(storage::Statement * stmt,
                        conn.Prepare(n == kRowsPerInsert ? kFullInsert : InsertNodesSql(n)));
    for (size_t i = 0; i < n; ++i) {
      const NodeRow& row = nodes_[at + i];
      const int p = static_cast<int>(i * 12);
      stmt->BindUncopied(p + 1, row.id)
          .BindUncopied(p + 2, row.parent_id)
          .BindUncopied(p + 3, row.order_key)
          .BindUncopied(p + 4, row.node_type)
          .BindUncopied(p + 5, row.content)
          .BindUncopied(p + 6, row.title)
          .BindUncopied(p + 7, row.properties)
          .Bind(p + 8, row.lifecycle)
          .Bind(p + 9, row.version)
          .Bind(p + 10, row.created_at)
          .Bind(p + 11, row.modified_at)
          .Bind(p + 12, row.partition_id);
    }
    Status run = stmt->Run();
    if (!run.ok()) {
      // The groups already in the table are not held any more.
      nodes_.erase(nodes_.begin(), nodes_.begin() + static_cast<std::ptrdiff_t>(at));
      return run;
    }
    at += n;
  }
  nodes_.clear();
  return Status::OK();
}

Status PendingChanges::Flush(storage::Connection& conn) {
  NS_RETURN_IF_ERROR(FlushNodes(conn));
  // The connection caches the statements by their text: the full one and
  // one per size of a last, shorter group.
  static const std::string kFullInsert = InsertSql(kRowsPerInsert);
  size_t at = 0;
  while (at < rows_.size()) {
    const size_t n = std::min(kRowsPerInsert, rows_.size() - at);
    NS_ASSIGN_OR_RETURN(storage::Statement * stmt,
                        conn.Prepare(n == kRowsPerInsert ? kFullInsert : InsertSql(n)));
    for (size_t i = 0; i < n; ++i) {
      const Row& row = rows_[at + i];
      const int p = static_cast<int>(i * 6);
      // The rows outlive the run, so their text is bound uncopied.
      stmt->Bind(p + 1, row.ts)
          .Bind(p + 2, static_cast<int64_t>(row.op))
          .BindUncopied(p + 3, row.node_id)
          .Bind(p + 4, row.version)
          .BindUncopied(p + 5, row.origin)
          .BindUncopied(p + 6, row.payload);
    }
    NS_RETURN_IF_ERROR(stmt->Run());
    at += n;
  }
  rows_.clear();
  return Status::OK();
}

}  // namespace nodespace
