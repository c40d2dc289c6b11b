#include "query/statistics.h"

#include <algorithm>
#include <chrono>
#include <random>

namespace nodespace::query {
namespace {

constexpr int64_t kTextCountCap = 100000;
constexpr size_t kMaxMemoEntries = 10000;
constexpr size_t kMaxTrackedQueries = 100000;
// Sampled rows inside a subtree from which the sample alone estimates it.
constexpr int64_t kMinSampleHits = 5;

// Conditions that only reach other tables are estimated through them.
bool IsStructural(const Filter& f) {
  return f.kind == Filter::Kind::kUnder || f.kind == Filter::Kind::kMentions ||
         f.kind == Filter::Kind::kMentionedBy || f.kind == Filter::Kind::kCollection;
}

// Whether the sample alone estimates `f` well: no structure (subtrees,
// edges) and no node type, which have exact counters of their own.
bool SampleFriendly(const Filter& f) {
  if (IsStructural(f)) return false;
  if (f.kind == Filter::Kind::kCompare) return f.field != "type";
  for (const Filter& child : f.children) {
    if (!SampleFriendly(child)) return false;
  }
  return true;
}

template <typename Map>
void Bound(Map& map) {
  if (map.size() >= kMaxMemoEntries) map.clear();
}

}  // namespace

Status Statistics::Refresh(storage::Connection& conn, int64_t change_seq) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t stale_after = std::max<int64_t>(1000, node_count_ / 10);
    if (refreshed_seq_ >= 0 && change_seq - refreshed_seq_ < stale_after) return Status::OK();
  }
  // Exact counts of active nodes or vectors would scan the table (about a
  // second per million rows); the row count is cheap and the sample gives
  // the fractions.
  NS_ASSIGN_OR_RETURN(int64_t rows, conn.QueryInt("SELECT count(*) FROM nodes"));
  NS_ASSIGN_OR_RETURN(int64_t max_rowid, conn.QueryInt("SELECT ifnull(max(rowid), 0) FROM nodes"));
  std::vector<int64_t> sample;  // active rows
  int64_t probed = 0, with_vector = 0;
  auto take = [&](storage::Statement& s) {
    ++probed;
    if (s.ColumnInt(1) != 0) return;
    sample.push_back(s.ColumnInt(0));
    with_vector += s.ColumnInt(2);
  };
  if (rows <= static_cast<int64_t>(kSampleRows)) {
    NS_ASSIGN_OR_RETURN(storage::Statement * stmt,
                        conn.Prepare("SELECT rowid, lifecycle, embedding IS NOT NULL FROM nodes"));
    storage::ScopedStatement s(*stmt);
    while (true) {
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      take(*s);
    }
  } else {
    // Random probes into the rowid range: a uniform sample of rows.
    NS_ASSIGN_OR_RETURN(storage::Statement * stmt,
                        conn.Prepare("SELECT rowid, lifecycle, embedding IS NOT NULL FROM nodes "
                                     "WHERE rowid >= ?1 ORDER BY rowid LIMIT 1"));
    std::mt19937_64 rng(static_cast<uint64_t>(change_seq) * 0x9E3779B97F4A7C15ULL + 1);
    std::uniform_int_distribution<int64_t> pick(1, std::max<int64_t>(1, max_rowid));
    for (size_t i = 0; i < kSampleRows; ++i) {
      storage::ScopedStatement s(*stmt);
      s->Bind(1, pick(rng));
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (row) take(*s);
    }
    std::sort(sample.begin(), sample.end());
    sample.erase(std::unique(sample.begin(), sample.end()), sample.end());
  }
  const double active_share =
      probed ? static_cast<double>(sample.size()) / static_cast<double>(probed) : 1.0;
  const double vector_share =
      sample.empty() ? 0.0 : static_cast<double>(with_vector) / static_cast<double>(sample.size());
  const auto active = static_cast<int64_t>(std::llround(active_share * static_cast<double>(rows)));
  std::string json = "[";
  for (size_t i = 0; i < sample.size(); ++i) {
    if (i) json += ',';
    json += std::to_string(sample[i]);
  }
  json += "]";

  std::vector<std::vector<std::string>> ancestors;
  {
    NS_ASSIGN_OR_RETURN(
        storage::Statement * stmt,
        conn.Prepare("WITH RECURSIVE up(id, d) AS (SELECT parent_id, 1 FROM nodes WHERE rowid = ?1 "
                     "UNION ALL SELECT p.parent_id, up.d + 1 FROM nodes p JOIN up ON p.id = up.id "
                     "WHERE up.d < 10000) SELECT id FROM up WHERE id != '' ORDER BY d"));
    for (int64_t rowid : sample) {
      storage::ScopedStatement s(*stmt);
      s->Bind(1, rowid);
      std::vector<std::string> chain;
      while (true) {
        NS_ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        chain.push_back(s->ColumnString(0));
      }
      ancestors.push_back(std::move(chain));
    }
  }

  std::lock_guard<std::mutex> lock(mu_);
  sample_ancestors_ = std::move(ancestors);
  refreshed_seq_ = change_seq;
  node_count_ = active;
  vector_count_ = std::llround(vector_share * static_cast<double>(active));
  sample_json_ = std::move(json);
  condition_cache_.clear();
  text_cache_.clear();
  subtree_cache_.clear();
  return Status::OK();
}

int64_t Statistics::node_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return node_count_;
}

int64_t Statistics::vector_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return vector_count_;
}

Result<double> Statistics::Selectivity(storage::Connection& conn, const Filter& filter,
                                       const CollectionResolver& resolve) {
  switch (filter.kind) {
    case Filter::Kind::kAnd: {
      // Conditions the sample sees well are measured together, so that
      // correlated ones (two bounds of one range, related properties) are
      // not multiplied as if independent; the rest multiply.
      Filter sampled = Filter::And({});
      double s = 1;
      for (const Filter& child : filter.children) {
        if (SampleFriendly(child)) {
          sampled.children.push_back(child);
        } else {
          NS_ASSIGN_OR_RETURN(double c, Selectivity(conn, child, resolve));
          s *= c;
        }
      }
      if (sampled.children.size() == 1) {
        NS_ASSIGN_OR_RETURN(double c, Selectivity(conn, sampled.children[0], resolve));
        s *= c;
      } else if (!sampled.children.empty()) {
        NS_ASSIGN_OR_RETURN(double c, ConditionSelectivity(conn, sampled, resolve));
        s *= c;
      }
      return s;
    }
    case Filter::Kind::kOr: {
      double none = 1;
      for (const Filter& child : filter.children) {
        NS_ASSIGN_OR_RETURN(double c, Selectivity(conn, child, resolve));
        none *= 1 - c;
      }
      return filter.children.empty() ? 0.0 : 1 - none;
    }
    case Filter::Kind::kNot: {
      if (filter.children.size() != 1) return 1.0;
      NS_ASSIGN_OR_RETURN(double c, Selectivity(conn, filter.children[0], resolve));
      return 1 - c;
    }
    default:
      return ConditionSelectivity(conn, filter, resolve);
  }
}

Result<double> Statistics::ConditionSelectivity(storage::Connection& conn, const Filter& condition,
                                                const CollectionResolver& resolve) {
  int64_t nodes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    nodes = std::max<int64_t>(1, node_count_);
  }
  // Rare types are counted through their index (the sample sees too few of
  // them); common ones hit the cap and are estimated like anything else.
  if (condition.kind == Filter::Kind::kCompare && condition.field == "type" &&
      (condition.op == Filter::Op::kEq || condition.op == Filter::Op::kIn)) {
    NS_ASSIGN_OR_RETURN(storage::Statement * stmt,
                        conn.Prepare("SELECT count(*) FROM (SELECT 1 FROM nodes WHERE node_type = "
                                     "?1 LIMIT ?2)"));
    int64_t matched = 0;
    bool capped = false;
    for (const QueryValue& v : condition.values) {
      const auto* name = std::get_if<std::string>(&v);
      if (!name) continue;
      storage::ScopedStatement s(*stmt);
      s->Bind(1, *name);
      s->Bind(2, kCountCap);
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      const int64_t count = row ? s->ColumnInt(0) : 0;
      capped |= count >= kCountCap;
      matched += count;
    }
    if (!capped) return std::min(1.0, static_cast<double>(matched) / static_cast<double>(nodes));
  }
  if (condition.kind == Filter::Kind::kUnder) {
    NS_ASSIGN_OR_RETURN(int64_t size, SubtreeSize(conn, condition.target, condition.depth));
    return std::min(1.0, static_cast<double>(size) / static_cast<double>(nodes));
  }
  NS_ASSIGN_OR_RETURN(SqlExpr expr, CompileFilter(condition, resolve));
  std::string key = expr.sql;
  for (const QueryValue& v : expr.args) {
    key += '\x1f';
    if (const auto* s = std::get_if<std::string>(&v)) key += *s;
    if (const auto* i = std::get_if<int64_t>(&v)) key += std::to_string(*i);
    if (const auto* d = std::get_if<double>(&v)) key += std::to_string(*d);
    if (const auto* b = std::get_if<bool>(&v)) key += *b ? "true" : "false";
  }
  std::string sample;
  int64_t sample_size;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = condition_cache_.find(key);
    if (it != condition_cache_.end()) return it->second;
    sample = sample_json_;
    sample_size = static_cast<int64_t>(sample_ancestors_.size());  // one chain per row
  }
  double selectivity;
  if (IsStructural(condition)) {
    // Edges are few per node: count the matches directly (bounded).
    NS_ASSIGN_OR_RETURN(storage::OwnedStatement s,
                        conn.PrepareOnce("SELECT count(*) FROM (SELECT 1 FROM nodes n WHERE " +
                                         expr.sql + " LIMIT " + std::to_string(kCountCap) + ")"));
    BindArgs(*s, expr.args);
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    const int64_t count = row ? s->ColumnInt(0) : 0;
    selectivity = std::min(1.0, static_cast<double>(count) / static_cast<double>(nodes));
  } else if (sample_size == 0) {
    selectivity = 1;
  } else {
    SqlExpr sampled{"n.rowid IN (SELECT value FROM json_each(?1))", {sample}};
    sampled.And(expr);
    NS_ASSIGN_OR_RETURN(storage::OwnedStatement s,
                        conn.PrepareOnce("SELECT count(*) FROM nodes n WHERE " + sampled.sql));
    BindArgs(*s, sampled.args);
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    const int64_t count = row ? s->ColumnInt(0) : 0;
    // Half a row for "none seen": a condition the sample misses is rare, not
    // impossible.
    selectivity = std::max(0.5, static_cast<double>(count)) / static_cast<double>(sample_size);
  }
  std::lock_guard<std::mutex> lock(mu_);
  Bound(condition_cache_);
  condition_cache_[key] = selectivity;
  return selectivity;
}

void Statistics::RememberSubtreeSize(const std::string& id, int depth, int64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  Bound(subtree_cache_);
  subtree_cache_[id + '\x1f' + std::to_string(depth)] = size;
}

Result<int64_t> Statistics::SubtreeSize(storage::Connection& conn, const std::string& id,
                                        int depth) {
  const std::string key = id + '\x1f' + std::to_string(depth);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = subtree_cache_.find(key);
    if (it != subtree_cache_.end()) return it->second;
    // The share of sampled rows that lie in the subtree; enough of them
    // make a good estimate without walking the subtree.
    int64_t inside = 0;
    for (const std::vector<std::string>& chain : sample_ancestors_) {
      const size_t levels =
          depth < 0 ? chain.size() : std::min(chain.size(), static_cast<size_t>(depth));
      for (size_t i = 0; i < levels; ++i) {
        if (chain[i] == id) {
          ++inside;
          break;
        }
      }
    }
    if (inside >= kMinSampleHits) {
      const int64_t size = inside * node_count_ / static_cast<int64_t>(sample_ancestors_.size());
      Bound(subtree_cache_);
      subtree_cache_[key] = size;
      return size;
    }
  }
  // A small subtree: counted (up to the cap).
  NS_ASSIGN_OR_RETURN(
      storage::Statement * stmt,
      conn.Prepare("WITH RECURSIVE sub(id, d) AS (SELECT ?1, 0 UNION ALL SELECT c.id, sub.d + 1 "
                   "FROM nodes c JOIN sub ON c.parent_id = sub.id WHERE ?2 < 0 OR sub.d < ?2 "
                   "LIMIT ?3) SELECT count(*) FROM sub"));
  storage::ScopedStatement s(*stmt);
  s->Bind(1, id);
  s->Bind(2, static_cast<int64_t>(depth));
  s->Bind(3, kCountCap);
  NS_ASSIGN_OR_RETURN(bool row, s->Step());
  const int64_t size = row ? s->ColumnInt(0) : 0;
  std::lock_guard<std::mutex> lock(mu_);
  Bound(subtree_cache_);
  subtree_cache_[key] = size;
  return size;
}

Result<int64_t> Statistics::TextMatches(storage::Connection& conn,
                                        const std::string& fts_expression) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = text_cache_.find(fts_expression);
    if (it != text_cache_.end()) return it->second;
  }
  NS_ASSIGN_OR_RETURN(storage::Statement * stmt,
                      conn.Prepare("SELECT count(*) FROM (SELECT 1 FROM nodes_fts WHERE nodes_fts "
                                   "MATCH ?1 LIMIT ?2)"));
  storage::ScopedStatement s(*stmt);
  s->Bind(1, fts_expression);
  s->Bind(2, kTextCountCap);
  NS_ASSIGN_OR_RETURN(bool row, s->Step());
  const int64_t count = row ? s->ColumnInt(0) : 0;
  std::lock_guard<std::mutex> lock(mu_);
  Bound(text_cache_);
  text_cache_[fts_expression] = count;
  return count;
}

Result<bool> Statistics::PropertyIndexed(storage::Connection& conn, const std::string& field) {
  Result<std::string> expression = PropertyIndexExpression(field);
  if (!expression.ok()) return false;  // not a property
  // One pragma read per question; the statements only when an index was
  // created or dropped since.
  NS_ASSIGN_OR_RETURN(storage::Statement * version_stmt, conn.Prepare("PRAGMA schema_version"));
  storage::ScopedStatement version(*version_stmt);
  NS_ASSIGN_OR_RETURN(bool has_version, version->Step());
  const int64_t schema_version = has_version ? version->ColumnInt(0) : 0;
  std::vector<std::string> statements;
  bool current = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    current = schema_version == index_schema_version_;
    if (current) statements = index_sql_;
  }
  if (!current) {
    NS_ASSIGN_OR_RETURN(storage::Statement * list_stmt,
                        conn.Prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND "
                                     "tbl_name = 'nodes' AND sql IS NOT NULL"));
    storage::ScopedStatement list(*list_stmt);
    while (true) {
      NS_ASSIGN_OR_RETURN(bool row, list->Step());
      if (!row) break;
      statements.push_back(list->ColumnString(0));
    }
    std::lock_guard<std::mutex> lock(mu_);
    index_schema_version_ = schema_version;
    index_sql_ = statements;
  }
  // The index's first (here: only) column must be the expression itself;
  // a partial index (WHERE ...) does not end with it.
  const std::string tail = " ON nodes(" + *expression + ")";
  for (const std::string& sql : statements) {
    if (sql.size() >= tail.size() &&
        sql.compare(sql.size() - tail.size(), tail.size(), tail) == 0) {
      return true;
    }
  }
  return false;
}

int64_t Statistics::RecordQuery(const std::string& query_key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (query_counts_.size() >= kMaxTrackedQueries && !query_counts_.count(query_key)) {
    query_counts_.clear();  // a crude reset beats unbounded growth
  }
  return query_counts_[query_key]++;
}

void Statistics::RecordFieldUse(const Query& query) {
  // The system clock, not a steady one: the time outlives the process (the
  // scaling manager stores it beside the hot indexes it builds).
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  std::function<void()> alert;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto count = [&](const std::string& field, bool sort) {
      FieldUsage& u = field_usage_[field];
      u.field = field;
      ++(sort ? u.sort_count : u.filter_count);
      u.last_used_ms = now_ms;
      if (alert_uses_ != 0 && u.filter_count + u.sort_count == alert_uses_ &&
          field.rfind("properties.", 0) == 0) {
        alert = alert_;
      }
    };
    std::vector<const Filter*> stack{&query.filter};
    while (!stack.empty()) {
      const Filter* f = stack.back();
      stack.pop_back();
      if (f->kind == Filter::Kind::kCompare) count(f->field, false);
      for (const Filter& child : f->children) stack.push_back(&child);
    }
    for (const SortKey& key : query.sort) {
      if (key.field != "score") count(key.field, true);
    }
  }
  if (alert) alert();
}

void Statistics::SetFieldUseAlert(uint64_t uses, std::function<void()> alert) {
  std::lock_guard<std::mutex> lock(mu_);
  alert_uses_ = alert ? uses : 0;
  alert_ = std::move(alert);
}

std::vector<FieldUsage> Statistics::FieldUsages() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<FieldUsage> out;
  for (const auto& [field, usage] : field_usage_) out.push_back(usage);
  // Stable: equal counts stay in field order (the map's).
  std::stable_sort(out.begin(), out.end(), [](const FieldUsage& a, const FieldUsage& b) {
    return a.filter_count + a.sort_count > b.filter_count + b.sort_count;
  });
  return out;
}

}  // namespace nodespace::query
