#include "scaling/hot_indexes.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string_view>

#include "model/stable_hash.h"
#include "query/filter_sql.h"
#include "storage/meta.h"

// Why no ANALYZE after creating an index. SQLite (Debian's build has no
// STAT4) uses an expression index for `=`, `IN` and ORDER BY on its
// expression without statistics, assuming a few rows per key. ANALYZE would
// only add sqlite_stat1's average rows per key, which says nothing about
// skew: a status that is "open" on 99 % of 200,000 nodes and "done" on 1 %
// reads "100,000 rows per key" for both. Measured with EXPLAIN QUERY PLAN and
// timings on such a table (every row has the property):
//  - no ANALYZE: the hot index for `status = 'done'` (12 ms), for
//    `type = 'task' AND status = 'done'` (9 ms) and for `status IN (...)`;
//  - ANALYZE of the hot index alone: it now looks worse than the unanalysed
//    nodes_by_type (default estimate), so the type query scans nodes_by_type
//    (103 ms, 11x slower);
//  - ANALYZE of everything: the same plans as without it for `=`, a full scan
//    for the IN that covers every row (no faster there: 223 ms against
//    95 ms through the index), plus a pass over every index of the database
//    and statistics that go stale as the data changes.
// The engine keeps its own sample statistics for planning instead
// (docs/ARCHITECTURE.md), so the hot indexes are created without ANALYZE.

namespace nodespace::scaling {
namespace {

constexpr std::string_view kIndexPrefix = "nodes_hot_";
constexpr std::string_view kMetaPrefix = "hot_index:";
constexpr std::string_view kPropertiesPrefix = "properties.";
constexpr size_t kMaxNamePathChars = 40;

std::string MetaKey(const std::string& name) {
  return std::string(kMetaPrefix) + name;
}

// `name` as an SQL identifier (names found in sqlite_master may hold anything).
std::string QuoteIdentifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    out.push_back(c);
    if (c == '"') out.push_back('"');
  }
  return out + "\"";
}

// The field an index's SQL indexes, when the SQL is exactly the index this
// module builds for it ("CREATE INDEX <name> ON nodes(<expression>)"); empty
// otherwise (another expression, several columns, a partial index).
std::string FieldFromIndexSql(const std::string& sql) {
  constexpr std::string_view kOpen = "json_extract(properties, '$.\"";
  constexpr std::string_view kClose = "\"')";
  const size_t begin = sql.find(kOpen);
  if (begin == std::string::npos) return "";
  const size_t path_begin = begin + kOpen.size();
  const size_t path_end = sql.find(kClose, path_begin);
  if (path_end == std::string::npos) return "";
  // '"a"."b"' between the outer quotes -> "a.b". A segment cannot hold a
  // quote (PropertyPathLiteral allows [A-Za-z0-9_-]), so splitting is exact.
  std::string path = sql.substr(path_begin, path_end - path_begin);
  std::string field(kPropertiesPrefix);
  for (size_t i = 0; i < path.size(); ++i) {
    if (path.compare(i, 3, "\".\"") == 0) {
      field.push_back('.');
      i += 2;
    } else {
      field.push_back(path[i]);
    }
  }
  auto expression = HotIndexExpression(field);
  if (!expression.ok()) return "";
  const std::string tail = " ON nodes(" + *expression + ")";
  if (sql.size() < tail.size() || sql.compare(sql.size() - tail.size(), tail.size(), tail) != 0) {
    return "";
  }
  return field;
}

// The bookkeeping row of `index`, when it parses and names the field the
// index's SQL serves.
struct Bookkeeping {
  std::string field;
  int64_t created_ms = 0;
  int64_t last_used_ms = 0;
};
std::optional<Bookkeeping> ParseBookkeeping(const std::string& json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto field = j.find("field");
  auto created = j.find("created_ms");
  auto last_used = j.find("last_used_ms");
  if (field == j.end() || !field->is_string() || created == j.end() ||
      !created->is_number_integer() || last_used == j.end() || !last_used->is_number_integer()) {
    return std::nullopt;
  }
  return Bookkeeping{field->get<std::string>(), created->get<int64_t>(), last_used->get<int64_t>()};
}

std::string BookkeepingJson(const HotIndex& index) {
  nlohmann::json j = {{"field", index.field},
                      {"created_ms", index.created_ms},
                      {"last_used_ms", index.last_used_ms}};
  return j.dump();
}

// A hot index as found, with whether its bookkeeping row was readable.
struct Found {
  HotIndex index;
  bool bookkept = false;
};

Result<std::vector<Found>> FindHotIndexes(storage::Connection& conn) {
  NS_ASSIGN_OR_RETURN(storage::Statement * stmt,
                      conn.Prepare("SELECT name, ifnull(sql, '') FROM sqlite_master WHERE type = "
                                   "'index' AND tbl_name = 'nodes' AND substr(name, 1, ?1) = ?2 "
                                   "ORDER BY name"));
  std::vector<Found> found;
  {
    storage::ScopedStatement s(*stmt);
    s->Bind(1, static_cast<int64_t>(kIndexPrefix.size())).Bind(2, kIndexPrefix);
    while (true) {
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      Found f;
      f.index.name = s->ColumnString(0);
      f.index.field = FieldFromIndexSql(s->ColumnString(1));
      found.push_back(std::move(f));
    }
  }
  for (Found& f : found) {
    NS_ASSIGN_OR_RETURN(std::optional<std::string> value,
                        storage::ReadMeta(conn, MetaKey(f.index.name)));
    if (!value) continue;
    std::optional<Bookkeeping> b = ParseBookkeeping(*value);
    // A row for another expression than the index has is not its row.
    if (!b || f.index.field.empty() || b->field != f.index.field) continue;
    f.index.created_ms = b->created_ms;
    f.index.last_used_ms = b->last_used_ms;
    f.bookkept = true;
  }
  return found;
}

// Usage of valid property fields: uses and the latest use.
struct Use {
  uint64_t count = 0;
  int64_t last_used_ms = 0;
};
std::map<std::string, Use> PropertyUses(const std::vector<FieldUsage>& usage) {
  std::map<std::string, Use> uses;
  for (const FieldUsage& u : usage) {
    if (!HotIndexExpression(u.field).ok()) continue;  // not a property, or an invalid path
    Use& use = uses[u.field];
    use.count += u.filter_count + u.sort_count;
    use.last_used_ms = std::max(use.last_used_ms, u.last_used_ms);
  }
  return uses;
}

Status Apply(storage::Connection& conn, const HotIndexReport& report,
             const std::vector<HotIndex>& rewrite) {
  NS_ASSIGN_OR_RETURN(storage::Statement * put,
                      conn.Prepare("INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) "
                                   "DO UPDATE SET value = excluded.value"));
  NS_ASSIGN_OR_RETURN(storage::Statement * erase, conn.Prepare("DELETE FROM meta WHERE key = ?1"));
  for (const HotIndex& index : report.dropped) {
    Status st = conn.Exec("DROP INDEX " + QuoteIdentifier(index.name));
    if (!st.ok()) return st.WithContext("dropping hot index " + index.name);
    storage::ScopedStatement s(*erase);
    NS_RETURN_IF_ERROR(s->Bind(1, MetaKey(index.name)).Run());
  }
  // Rows left behind by indexes someone else dropped.
  {
    NS_ASSIGN_OR_RETURN(
        storage::Statement * stale,
        conn.Prepare("DELETE FROM meta WHERE substr(key, 1, ?1) = ?2 AND substr(key, ?1 + 1) NOT "
                     "IN (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = "
                     "'nodes')"));
    storage::ScopedStatement s(*stale);
    NS_RETURN_IF_ERROR(
        s->Bind(1, static_cast<int64_t>(kMetaPrefix.size())).Bind(2, kMetaPrefix).Run());
  }
  for (const HotIndex& index : report.created) {
    NS_ASSIGN_OR_RETURN(std::string expression, HotIndexExpression(index.field));
    // The name is [a-z0-9_] by construction; quoted all the same.
    Status st =
        conn.Exec("CREATE INDEX " + QuoteIdentifier(index.name) + " ON nodes(" + expression + ")");
    if (!st.ok()) return st.WithContext("creating hot index " + index.name + " on " + index.field);
  }
  for (const std::vector<HotIndex>* rows : {&report.created, &rewrite}) {
    for (const HotIndex& index : *rows) {
      storage::ScopedStatement s(*put);
      NS_RETURN_IF_ERROR(s->Bind(1, MetaKey(index.name)).Bind(2, BookkeepingJson(index)).Run());
    }
  }
  return Status::OK();
}

}  // namespace

Result<std::string> HotIndexExpression(const std::string& field) {
  return query::PropertyIndexExpression(field);
}

Result<std::string> HotIndexName(const std::string& field) {
  NS_RETURN_IF_ERROR(HotIndexExpression(field).status());
  std::string name(kIndexPrefix);
  size_t chars = 0;
  for (size_t i = kPropertiesPrefix.size(); i < field.size() && chars < kMaxNamePathChars; ++i) {
    const auto c = static_cast<unsigned char>(field[i]);
    name.push_back(std::isalnum(c) ? static_cast<char>(std::tolower(c)) : '_');
    ++chars;
  }
  char hash[9];
  std::snprintf(hash, sizeof(hash), "%08x",
                static_cast<unsigned>(stable_hash::Fnv1a64(field) & 0xffffffffu));
  return name + "_" + hash;
}

Result<std::vector<HotIndex>> ListHotIndexes(storage::Connection& conn) {
  NS_ASSIGN_OR_RETURN(std::vector<Found> found, FindHotIndexes(conn));
  std::vector<HotIndex> out;
  out.reserve(found.size());
  for (Found& f : found) out.push_back(std::move(f.index));
  return out;
}

Result<HotIndexReport> RebuildHotIndexes(storage::Connection& conn,
                                         const std::vector<FieldUsage>& usage,
                                         const HotIndexPolicy& policy, int64_t now_ms,
                                         bool dry_run) {
  storage::Transaction txn(conn);
  if (!dry_run) NS_RETURN_IF_ERROR(txn.Begin());
  NS_ASSIGN_OR_RETURN(std::vector<Found> found, FindHotIndexes(conn));
  const std::map<std::string, Use> uses = PropertyUses(usage);
  auto unused = [&](int64_t last_used_ms) {
    return now_ms - last_used_ms >= policy.drop_unused_after_ms;
  };
  auto count_of = [&](const std::string& field) -> uint64_t {
    auto it = uses.find(field);
    return it == uses.end() ? 0 : it->second.count;
  };

  HotIndexReport report;
  std::vector<HotIndex> rewrite;  // kept indexes whose bookkeeping changes
  std::vector<Found> ranked_existing;
  size_t unmanaged_kept = 0;
  std::set<std::string> indexed;  // fields that keep an index
  for (Found& f : found) {
    HotIndex& index = f.index;
    const int64_t before = index.last_used_ms;
    bool refreshed = false;
    if (auto it = uses.find(index.field); it != uses.end() && it->second.count > 0) {
      index.last_used_ms = std::max(index.last_used_ms, it->second.last_used_ms);
      refreshed = index.last_used_ms != before;
    }
    if (unused(index.last_used_ms)) {
      report.dropped.push_back(index);
      continue;
    }
    if (!f.bookkept) {
      // Not ours to rank; a use seen now is written down (created_ms stays
      // 0, unknown) so that it survives a restart, and from then on the
      // index is managed like the ones created here.
      ++unmanaged_kept;
      if (!index.field.empty()) indexed.insert(index.field);
      if (refreshed) rewrite.push_back(index);
      report.kept.push_back(index);
      continue;
    }
    ranked_existing.push_back(f);
    if (refreshed) rewrite.push_back(index);
  }

  // Existing managed indexes and candidate fields, most used first.
  struct Entry {
    std::string field;
    uint64_t count = 0;
    const Found* existing = nullptr;
  };
  std::vector<Entry> entries;
  for (const Found& f : ranked_existing) {
    entries.push_back({f.index.field, count_of(f.index.field), &f});
    indexed.insert(f.index.field);
  }
  std::set<std::string> taken_names;
  for (const Found& f : found) taken_names.insert(f.index.name);
  for (const auto& [field, use] : uses) {
    if (indexed.count(field) || use.count < policy.min_uses || unused(use.last_used_ms)) continue;
    entries.push_back({field, use.count, nullptr});
  }
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.count != b.count) return a.count > b.count;
    return a.field < b.field;
  });
  const size_t slots =
      policy.max_indexes > unmanaged_kept ? policy.max_indexes - unmanaged_kept : 0;
  size_t used_slots = 0;
  std::vector<HotIndex> displaced;
  for (const Entry& e : entries) {
    if (e.existing) {
      if (used_slots < slots) {
        ++used_slots;
        report.kept.push_back(e.existing->index);
      } else {
        displaced.push_back(e.existing->index);
      }
      continue;
    }
    if (used_slots >= slots) continue;
    NS_ASSIGN_OR_RETURN(std::string name, HotIndexName(e.field));
    // A name already held by an index on something else (a 32-bit hash
    // collision among paths that read alike, or someone else's index with
    // the same name): not created, rather than dropping theirs.
    if (taken_names.count(name)) continue;
    taken_names.insert(name);
    ++used_slots;
    report.created.push_back({name, e.field, now_ms, uses.at(e.field).last_used_ms});
  }
  // Displaced indexes are reported with the dropped ones, by name.
  report.dropped.insert(report.dropped.end(), displaced.begin(), displaced.end());
  std::sort(report.dropped.begin(), report.dropped.end(),
            [](const HotIndex& a, const HotIndex& b) { return a.name < b.name; });
  std::sort(report.kept.begin(), report.kept.end(),
            [](const HotIndex& a, const HotIndex& b) { return a.name < b.name; });
  // Only kept indexes' rows are rewritten; dropped ones' rows go.
  std::erase_if(rewrite, [&](const HotIndex& r) {
    return std::none_of(report.kept.begin(), report.kept.end(),
                        [&](const HotIndex& k) { return k.name == r.name; });
  });

  if (dry_run) return report;
  NS_RETURN_IF_ERROR(Apply(conn, report, rewrite));
  NS_RETURN_IF_ERROR(txn.Commit());
  return report;
}

}  // namespace nodespace::scaling
