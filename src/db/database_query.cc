// Database::Impl::RunQuery: the query cache, the read snapshot and the
// executor (src/query/executor.h).
#include <algorithm>
#include <chrono>
#include <optional>

#include "db/database_impl.h"
#include "query/executor.h"
#include "query/query_json.h"

namespace nodespace {
namespace {

// SQLite calls this every 1000 virtual-machine steps of the reader's
// statements; a non-zero return interrupts the statement.
int PastDeadline(void* deadline) {
  return std::chrono::steady_clock::now() >
         *static_cast<std::chrono::steady_clock::time_point*>(deadline);
}

// Arms the deadline on a reader connection for one query, disarms it after.
class QueryDeadline {
 public:
  QueryDeadline(sqlite3* db, int64_t max_ms, std::chrono::steady_clock::time_point start)
      : db_(max_ms > 0 ? db : nullptr), deadline_(start + std::chrono::milliseconds(max_ms)) {
    if (db_ != nullptr) sqlite3_progress_handler(db_, 1000, PastDeadline, &deadline_);
  }
  ~QueryDeadline() {
    if (db_ != nullptr) sqlite3_progress_handler(db_, 0, nullptr, nullptr);
  }
  bool passed() const { return db_ != nullptr && std::chrono::steady_clock::now() > deadline_; }

 private:
  sqlite3* db_;
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace

Result<QueryResult> Database::Impl::RunQuery(const nodespace::Query& query) {
  const auto start = std::chrono::steady_clock::now();
  nodespace::Query q = query;
  NS_RETURN_IF_ERROR(query::NormalizeQuery(&q, options_.query_limits));
  nodespace::Query keyed = q;
  keyed.explain = false;
  keyed.use_cache = true;
  const std::string key = QueryToJson(keyed);

  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  if (q.use_cache) {
    NS_ASSIGN_OR_RETURN(int64_t seq, conn->QueryInt("SELECT ifnull(max(seq), 0) FROM changes"));
    if (std::shared_ptr<const QueryResult> hit = query_cache_->Get(key, seq)) {
      // A cached answer still counts as a use of the fields it filters and
      // sorts on (hot indexes follow what users ask, not what misses).
      query_stats_.RecordFieldUse(q);
      QueryResult out = *hit;
      out.explain.cache_hit = true;
      out.explain.stages.clear();
      out.explain.total_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      return out;
    }
  }

  std::vector<float> query_vector = q.vector;
  if (!q.semantic.empty()) {
    auto embedded = EmbedQuery(q.semantic);
    if (!embedded.ok()) return embedded.status().WithContext("semantic");
    query_vector = std::move(*embedded);
  }

  // One read transaction: statistics, filters, indexes and rows all see the
  // same snapshot, and the cache entry is stamped with its sequence.
  storage::ReadTransaction snapshot(*conn);
  NS_RETURN_IF_ERROR(snapshot.Begin());
  NS_ASSIGN_OR_RETURN(int64_t seq, conn->QueryInt("SELECT ifnull(max(seq), 0) FROM changes"));

  auto resolve = [this, &conn](const std::string& path) -> Result<std::string> {
    auto id = ResolveCollection(*conn, path, nullptr);
    if (!id.ok()) return id.status().WithContext("collection");
    return id;
  };
  query::ExecutionContext ctx{*conn, query_vector.empty() ? nullptr : search_vectors_.get(),
                              query_stats_, resolve};
  ctx.default_ef = options_.hnsw_ef_search;
  ctx.exact_search_max = options_.exact_search_max_vectors;
  ctx.change_seq = seq;
  std::unique_ptr<query::HierarchyIndex::View> tree;
  if (options_.hierarchy_index && q.filter.kind == Filter::Kind::kAnd &&
      std::any_of(q.filter.children.begin(), q.filter.children.end(),
                  [](const Filter& f) { return f.kind == Filter::Kind::kUnder; })) {
    NS_ASSIGN_OR_RETURN(tree, hierarchy_.ViewAt(*conn, seq));
    ctx.tree = tree.get();
  }
  // The text index only ever speeds a query up: when it cannot be brought
  // to this snapshot (or fails to), FTS5 ranks.
  std::unique_ptr<text::TextIndex::View> text_view;
  std::optional<text::FtsTokenizer> tokenizer;
  if (options_.text_index && !q.text.empty()) {
    if (auto view = text_index_.ViewAt(*conn, seq); view.ok() && *view != nullptr) {
      if (auto opened = text::FtsTokenizer::Open(*conn); opened.ok()) {
        text_view = std::move(*view);
        tokenizer.emplace(std::move(*opened));
        ctx.text = text_view.get();
        ctx.tokenizer = &*tokenizer;
      }
    }
  }
  const int64_t max_ms = options_.query_limits.max_query_ms;
  Result<QueryResult> executed = [&] {
    QueryDeadline deadline(conn->raw(), max_ms, start);
    Result<QueryResult> r = query::ExecuteQuery(ctx, q, query_vector);
    if (!r.ok() && deadline.passed()) {
      return Result<QueryResult>(Status::InvalidArgument(
          "query timed out after " + std::to_string(max_ms) +
          " ms (QueryLimits::max_query_ms); narrow its filters or lower its limit"));
    }
    return r;
  }();
  NS_ASSIGN_OR_RETURN(QueryResult result, std::move(executed));
  if (q.use_cache) {
    auto stored = std::make_shared<QueryResult>(result);
    stored->explain.stages.clear();
    query_cache_->Put(key, seq, std::move(stored));
  }
  if (!q.explain) result.explain = {};
  return result;
}

}  // namespace nodespace
