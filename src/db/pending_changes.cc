#include "db/pending_changes.h"

#include <algorithm>

namespace nodespace {
namespace {

// INSERT INTO changes(...) VALUES (?, ...), ... for `rows` rows.
std::string InsertSql(size_t rows) {
  std::string sql = "INSERT INTO changes(ts, op, node_id, version, origin, payload) VALUES ";
  for (size_t i = 0; i < rows; ++i) sql += i == 0 ? "(?,?,?,?,?,?)" : ",(?,?,?,?,?,?)";
  return sql;
}

}  // namespace

Status PendingChanges::Flush(storage::Connection& conn) {
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
