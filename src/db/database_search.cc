// Database::Impl search entry points: full-text and vector search.
#include <algorithm>

#include "db/database_impl.h"
#include "index/text/text_search.h"
#include "query/filter_sql.h"
#include "storage/node_rows.h"

namespace nodespace {
namespace {

using storage::Connection;
using storage::ScopedStatement;
using storage::Statement;

constexpr size_t kMaxK = 10000;

// The sorted rowids of active nodes with a vector that pass `filter`.
Result<std::vector<int64_t>> AllowedRows(Connection& conn, const SearchFilter& filter) {
  std::string sql;
  std::vector<std::string> args;
  auto arg = [&](std::string value) {
    args.push_back(std::move(value));
    std::string placeholder = "?";
    placeholder += std::to_string(args.size());
    return placeholder;
  };
  if (!filter.under.empty()) {
    NS_ASSIGN_OR_RETURN(Statement * exists, conn.Prepare("SELECT 1 FROM nodes WHERE id = ?1"));
    ScopedStatement e(*exists);
    e->Bind(1, filter.under);
    NS_ASSIGN_OR_RETURN(bool found, e->Step());
    if (!found) return Status::NotFound("node '" + filter.under + "' not found");
    sql += "WITH RECURSIVE sub(id) AS (SELECT " + arg(filter.under) +
           " UNION ALL SELECT n.id FROM nodes n JOIN sub ON n.parent_id = sub.id) ";
  }
  sql += "SELECT rowid FROM nodes WHERE lifecycle = 0 AND embedding IS NOT NULL";
  if (!filter.node_types.empty()) {
    sql += " AND node_type IN (";
    for (size_t i = 0; i < filter.node_types.size(); ++i) {
      sql += (i ? ", " : "") + arg(filter.node_types[i]);
    }
    sql += ")";
  }
  if (filter.created_from) sql += " AND created_at >= " + std::to_string(*filter.created_from);
  if (filter.created_before) {
    sql += " AND created_at < " + std::to_string(*filter.created_before);
  }
  for (const SearchFilter::PropertyIn& p : filter.properties) {
    // A literal path (restricted characters), as the query engine writes it.
    NS_ASSIGN_OR_RETURN(std::string path, query::PropertyPathLiteral("properties." + p.path));
    if (p.values.empty()) {
      return Status::InvalidArgument("property filter on '" + p.path + "' lists no values");
    }
    sql += " AND CAST(json_extract(properties, " + path + ") AS TEXT) IN (";
    for (size_t i = 0; i < p.values.size(); ++i) sql += (i ? ", " : "") + arg(p.values[i]);
    sql += ")";
  }
  if (!filter.under.empty()) sql += " AND id IN (SELECT id FROM sub)";
  // Sorted below rather than by SQL: ORDER BY rowid would make SQLite walk
  // the whole table in rowid order instead of using a fitting index.
  // The text varies with the filter: not for the connection's statement cache.
  NS_ASSIGN_OR_RETURN(storage::OwnedStatement s, conn.PrepareOnce(sql));
  for (size_t i = 0; i < args.size(); ++i) s->Bind(static_cast<int>(i + 1), args[i]);
  std::vector<int64_t> rows;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    rows.push_back(s->ColumnInt(0));
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

}  // namespace

Result<TextSearchResult> Database::Impl::SearchText(const TextSearchOptions& options) {
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  return text::SearchText(*conn, options, options_.text_index ? &text_index_ : nullptr);
}

Result<VectorSearchResult> Database::Impl::SearchVector(const VectorSearchOptions& options) {
  if (options.k == 0 || options.k > kMaxK) {
    return Status::InvalidArgument("k must be between 1 and " + std::to_string(kMaxK));
  }
  if (options.vector.empty() == options.text.empty()) {
    return Status::InvalidArgument("give either a query vector or query text, not both or neither");
  }
  std::vector<float> query = options.vector;
  if (!options.text.empty()) {
    NS_ASSIGN_OR_RETURN(query, EmbedQuery(options.text));
  }
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  // One read transaction: the filter, the catch-up and the rows all see the
  // same snapshot.
  storage::ReadTransaction snapshot(*conn);
  NS_RETURN_IF_ERROR(snapshot.Begin());

  VectorQuery q;
  q.vector = query;
  q.k = options.k;
  q.ef = options.ef;
  q.exact = options.exact;
  if (options.filter.created_from) q.created_min = *options.filter.created_from;
  if (options.filter.created_before) q.created_max = *options.filter.created_before - 1;
  std::vector<int64_t> allowed;
  VectorSearchResult out;
  if (!options.filter.empty()) {
    NS_ASSIGN_OR_RETURN(allowed, AllowedRows(*conn, options.filter));
    q.allowed = &allowed;
    out.allowed_count = static_cast<int64_t>(allowed.size());
  }
  NS_ASSIGN_OR_RETURN(VectorAnswer answer, search_vectors_->Search(*conn, q));
  out.plan = answer.plan;
  out.index_size = answer.index_size;
  out.distances_computed = answer.result.stats.distances_computed;
  NS_ASSIGN_OR_RETURN(Statement * stmt,
                      conn->Prepare(std::string("SELECT ") + storage::kNodeColumns +
                                    " FROM nodes WHERE rowid = ?1"));
  for (const vector::Neighbor& n : answer.result.neighbors) {
    ScopedStatement s(*stmt);
    s->Bind(1, n.label);
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row)
      return Status::Internal("vector index names row " + std::to_string(n.label) +
                              " which does not exist");
    out.hits.push_back({storage::ReadNodeRow(*s), n.distance});
  }
  return out;
}

}  // namespace nodespace
