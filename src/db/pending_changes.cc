#include "db/pending_changes.h"

#include <algorithm>
#include <cstddef>

namespace nodespace {
namespace {

// INSERT INTO <table_and_columns> VALUES <group>, <group>, ... for `rows` rows.
std::string InsertSql(std::string_view table_and_columns, std::string_view group, size_t rows) {
  std::string sql = "INSERT INTO ";
  sql += table_and_columns;
  sql += " VALUES ";
  for (size_t i = 0; i < rows; ++i) {
    if (i > 0) sql += ',';
    sql += group;
  }
  return sql;
}

constexpr std::string_view kChangeColumns = "changes(ts, op, node_id, version, origin, payload)";
constexpr std::string_view kChangeGroup = "(?,?,?,?,?,?)";
// The columns CreateNode's own INSERT writes, the embedding NULL.
constexpr std::string_view kNodeColumns =
    "nodes(id, parent_id, order_key, node_type, content, title, properties, lifecycle, version, "
    "created_at, modified_at, embedding, partition_id)";
constexpr std::string_view kNodeGroup = "(?,?,?,?,?,?,?,?,?,?,?,NULL,?)";

// Inserts `rows` in order, PendingChanges::kRowsPerInsert to a statement
// (`full_insert`, made once by the caller, or a shorter one for the last
// group); `bind(stmt, row, i)` binds `row` as the statement's i-th row. The
// rows go in uncopied (they outlive each run). On success `rows` is emptied;
// on failure it keeps only the rows not yet in the table.
template <typename Row, typename BindRow>
Status InsertInGroups(storage::Connection& conn, std::vector<Row>& rows,
                      std::string_view table_and_columns, std::string_view group,
                      const std::string& full_insert, BindRow bind) {
  constexpr size_t kGroup = PendingChanges::kRowsPerInsert;
  // The connection caches the statements by their text: the full one and
  // one per size of a last, shorter group.
  size_t at = 0;
  while (at < rows.size()) {
    const size_t n = std::min(kGroup, rows.size() - at);
    NS_ASSIGN_OR_RETURN(
        storage::Statement * stmt,
        conn.Prepare(n == kGroup ? full_insert : InsertSql(table_and_columns, group, n)));
    for (size_t i = 0; i < n; ++i) bind(*stmt, rows[at + i], static_cast<int>(i));
    Status run = stmt->Run();
    if (!run.ok()) {
      rows.erase(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(at));
      return run;
    }
    at += n;
  }
  rows.clear();
  return Status::OK();
}

}  // namespace

Status PendingChanges::FlushNodes(storage::Connection& conn) {
  static const std::string kFullInsert = InsertSql(kNodeColumns, kNodeGroup, kRowsPerInsert);
  return InsertInGroups(conn, nodes_, kNodeColumns, kNodeGroup, kFullInsert,
                        [](storage::Statement& stmt, const NodeRow& row, int i) {
                          const int p = i * 12;
                          stmt.BindUncopied(p + 1, row.id)
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
                        });
}

Status PendingChanges::Flush(storage::Connection& conn) {
  NS_RETURN_IF_ERROR(FlushNodes(conn));
  static const std::string kFullInsert = InsertSql(kChangeColumns, kChangeGroup, kRowsPerInsert);
  return InsertInGroups(conn, rows_, kChangeColumns, kChangeGroup, kFullInsert,
                        [](storage::Statement& stmt, const Row& row, int i) {
                          const int p = i * 6;
                          stmt.Bind(p + 1, row.ts)
                              .Bind(p + 2, static_cast<int64_t>(row.op))
                              .BindUncopied(p + 3, row.node_id)
                              .Bind(p + 4, row.version)
                              .BindUncopied(p + 5, row.origin)
                              .BindUncopied(p + 6, row.payload);
                        });
}

}  // namespace nodespace
