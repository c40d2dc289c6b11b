// Hot property indexes: built from the field usage real queries record, used
// by SQLite for the engine's own SQL, ranked, capped, dropped when unused,
// and changed all at once or not at all.
#include "scaling/hot_indexes.h"

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "nodespace/database.h"
#include "query/filter_sql.h"
#include "storage/meta.h"
#include "test_util.h"

namespace nodespace::scaling {
namespace {

constexpr int kNodes = 3000;
constexpr int64_t kDayMs = 24LL * 3600 * 1000;
constexpr int64_t kT0 = 1700000000000;  // 2023-11-14, a fixed "now" for synthetic usage
const std::string kStatus = "properties.task.status";
const std::string kPriority = "properties.priority";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> Ids(const QueryResult& r) {
  std::vector<std::string> ids;
  for (const QueryHit& h : r.hits) ids.push_back(h.node.id);
  return ids;
}

std::vector<std::string> Names(const std::vector<HotIndex>& indexes) {
  std::vector<std::string> names;
  for (const HotIndex& i : indexes) names.push_back(i.name);
  return names;
}

std::vector<std::string> Fields(const std::vector<HotIndex>& indexes) {
  std::vector<std::string> fields;
  for (const HotIndex& i : indexes) fields.push_back(i.field);
  return fields;
}

FieldUsage Use(std::string field, uint64_t filters, uint64_t sorts, int64_t last_used_ms) {
  FieldUsage u;
  u.field = std::move(field);
  u.filter_count = filters;
  u.sort_count = sorts;
  u.last_used_ms = last_used_ms;
  return u;
}

// A query the way the engine runs it: unsorted filters order by modified_at.
// The background scaling manager would run RebuildHotIndexes itself when
// queries are slow (as under valgrind); these tests call it.
Options NoScaling() {
  Options options;
  options.scaling.enabled = false;
  return options;
}

Query StatusQuery(const std::string& status) {
  Query q = QueryBuilder().Where(Filter::Eq(kStatus, status)).Limit(1000).Build();
  q.use_cache = false;  // cache hits are not executed, so they record no field use
  return q;
}

class HotIndexTest : public ::testing::Test {
 protected:
  // kNodes nodes, every one with the property: status "done" on one in ten,
  // "open" on the rest; priority 0..4; "x"/"y"/"z" for the ranking tests.
  void Fill() {
    auto db = Database::Open(dir_.path(), NoScaling());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    WriteBatch batch;
    for (int i = 0; i < kNodes; ++i) {
      NewNode node;
      node.id = "n" + std::to_string(i);
      node.node_type = i % 3 == 0 ? "task" : "text";
      node.content = "item " + std::to_string(i);
      node.properties = "{\"task\":{\"status\":\"" + std::string(i % 10 == 0 ? "done" : "open") +
                        "\"},\"priority\":" + std::to_string(i % 5) +
                        ",\"x\":" + std::to_string(i % 7) + ",\"y\":" + std::to_string(i % 11) +
                        ",\"z\":" + std::to_string(i % 13) + "}";
      node.created_at = kT0 + i;
      node.modified_at = kT0 + (i * 37) % kNodes;
      batch.Create(std::move(node));
    }
    auto written = db_->Write(batch);
    ASSERT_TRUE(written.ok()) << written.status().ToString();
  }

  // Closes the database and opens its file directly, as the scaling manager's
  // writer connection would be.
  void OpenRaw() {
    db_.reset();
    auto conn = storage::Connection::Open(dir_.Sub("nodespace.db"), /*read_only=*/false,
                                          /*create=*/false);
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::move(*conn);
  }

  // The details of EXPLAIN QUERY PLAN for `sql`, one line per step.
  std::string Plan(const std::string& sql, const std::vector<QueryValue>& args = {}) {
    auto stmt = conn_->PrepareOnce("EXPLAIN QUERY PLAN " + sql);
    EXPECT_TRUE(stmt.ok()) << stmt.status().ToString();
    if (!stmt.ok()) return "";
    query::BindArgs(**stmt, args);
    std::string plan;
    while (true) {
      auto row = (*stmt)->Step();
      EXPECT_TRUE(row.ok()) << row.status().ToString();
      if (!row.ok() || !*row) break;
      plan += (*stmt)->ColumnString(3) + "\n";
    }
    return plan;
  }

  // The SQL QueryRun::RunFieldSorted runs for `filter` sorted by `order`
  // (the lifecycle and snapshot conditions included), with its arguments.
  query::SqlExpr EngineSql(const Filter& filter, const std::string& order_field) {
    auto where = query::CompileFilter(
        filter, [](const std::string&) -> Result<std::string> { return std::string(); });
    EXPECT_TRUE(where.ok()) << where.status().ToString();
    query::SqlExpr expr = where.ok() ? *where : query::SqlExpr{"1", {}};
    expr.And({"n.lifecycle = 0", {}});
    expr.And({"+n.rowid <= 1000000", {}});
    auto order = query::FieldSql(order_field);
    EXPECT_TRUE(order.ok()) << order.status().ToString();
    expr.sql = "SELECT n.rowid, " + *order + " FROM nodes n WHERE " + expr.sql + " ORDER BY " +
               *order + " DESC, n.rowid ASC LIMIT 21";
    return expr;
  }

  Result<int64_t> MetaRows() {
    return conn_->QueryInt("SELECT count(*) FROM meta WHERE key LIKE 'hot_index:%'");
  }

  testing::TempDir dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<storage::Connection> conn_;
};

TEST_F(HotIndexTest, IndexesAFilteredPropertyThatTheEngineThenUses) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  std::vector<std::string> done_before;
  for (int i = 0; i < 25; ++i) {
    ASSERT_OK_AND_ASSIGN(QueryResult r, db_->RunQuery(StatusQuery(i % 2 ? "open" : "done")));
    if (i == 0) done_before = Ids(r);
  }
  ASSERT_EQ(done_before.size(), static_cast<size_t>(kNodes / 10));
  std::vector<FieldUsage> usage = db_->QueryFieldUsage();
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].field, kStatus);
  EXPECT_EQ(usage[0].filter_count, 25u);
  const int64_t now = NowMs();
  EXPECT_GT(usage[0].last_used_ms, now - 60000);
  EXPECT_LE(usage[0].last_used_ms, now);
  ASSERT_NO_FATAL_FAILURE(OpenRaw());

  const std::string select_done =
      "SELECT n.rowid FROM nodes n WHERE json_extract(n.properties, '$.\"task\".\"status\"') = "
      "'done'";
  EXPECT_EQ(Plan(select_done).find("nodes_hot_"), std::string::npos);

  ASSERT_OK_AND_ASSIGN(HotIndexReport report, RebuildHotIndexes(*conn_, usage, {}, now, false));
  ASSERT_EQ(report.created.size(), 1u);
  EXPECT_TRUE(report.dropped.empty());
  EXPECT_TRUE(report.kept.empty());
  ASSERT_OK_AND_ASSIGN(std::string name, HotIndexName(kStatus));
  EXPECT_EQ(report.created[0].name, name);
  EXPECT_EQ(report.created[0].field, kStatus);
  EXPECT_EQ(report.created[0].created_ms, now);
  EXPECT_EQ(report.created[0].last_used_ms, usage[0].last_used_ms);

  ASSERT_OK_AND_ASSIGN(std::vector<HotIndex> listed, ListHotIndexes(*conn_));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name, name);
  EXPECT_EQ(listed[0].field, kStatus);
  EXPECT_EQ(listed[0].created_ms, now);
  EXPECT_EQ(listed[0].last_used_ms, usage[0].last_used_ms);
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> row,
                       storage::ReadMeta(*conn_, "hot_index:" + name));
  ASSERT_TRUE(row.has_value());
  const nlohmann::json j = nlohmann::json::parse(*row);
  EXPECT_EQ(j["field"], kStatus);
  EXPECT_EQ(j["created_ms"], now);
  EXPECT_EQ(j["last_used_ms"], usage[0].last_used_ms);

  // SQLite picks the index for the engine's SQL, alias `n` and all.
  EXPECT_NE(Plan(select_done).find("USING INDEX " + name), std::string::npos) << Plan(select_done);
  query::SqlExpr engine = EngineSql(Filter::Eq(kStatus, std::string("done")), "modified_at");
  const std::string plan = Plan(engine.sql, engine.args);
  EXPECT_NE(plan.find("SEARCH n USING INDEX " + name), std::string::npos) << plan;
  engine = EngineSql(Filter::In(kStatus, {std::string("done"), std::string("open")}), "title");
  EXPECT_NE(Plan(engine.sql, engine.args).find("USING INDEX " + name), std::string::npos);

  // The same answers through the engine afterwards.
  conn_.reset();
  ASSERT_OK_AND_ASSIGN(db_, Database::Open(dir_.path(), NoScaling()));
  Query q = StatusQuery("done");
  q.explain = true;
  ASSERT_OK_AND_ASSIGN(QueryResult after, db_->RunQuery(q));
  EXPECT_EQ(Ids(after), done_before);
  EXPECT_EQ(after.explain.strategy, "filter_only");
  EXPECT_FALSE(after.explain.cache_hit);
  ASSERT_FALSE(after.explain.stages.empty());
  EXPECT_EQ(after.explain.stages[0].rows, kNodes / 10);
}

TEST_F(HotIndexTest, IndexesASortedPropertyForOrderBy) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  Query q = QueryBuilder().SortBy(kPriority, /*descending=*/true).Limit(30).Build();
  q.use_cache = false;
  std::vector<std::string> before;
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK_AND_ASSIGN(QueryResult r, db_->RunQuery(q));
    before = Ids(r);
  }
  std::vector<FieldUsage> usage = db_->QueryFieldUsage();
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].sort_count, 20u);
  ASSERT_NO_FATAL_FAILURE(OpenRaw());
  ASSERT_OK_AND_ASSIGN(HotIndexReport report, RebuildHotIndexes(*conn_, usage, {}, NowMs(), false));
  ASSERT_EQ(Fields(report.created), std::vector<std::string>{kPriority});
  // No filter: SQLite walks the index in order instead of sorting every row.
  const query::SqlExpr engine = EngineSql(Filter::And({}), kPriority);
  const std::string plan = Plan(engine.sql, engine.args);
  EXPECT_NE(plan.find("SCAN n USING INDEX " + report.created[0].name), std::string::npos) << plan;

  conn_.reset();
  ASSERT_OK_AND_ASSIGN(db_, Database::Open(dir_.path(), NoScaling()));
  ASSERT_OK_AND_ASSIGN(QueryResult after, db_->RunQuery(q));
  EXPECT_EQ(Ids(after), before);
}

TEST_F(HotIndexTest, ExpressionIsTheEnginesWithoutTheAliasAndNamesNeverCollide) {
  for (const std::string field : {kStatus, kPriority, std::string("properties.a-b.c_d.E1")}) {
    ASSERT_OK_AND_ASSIGN(std::string expression, HotIndexExpression(field));
    ASSERT_OK_AND_ASSIGN(std::string engine, query::FieldSql(field));
    const std::string alias = "n.properties";
    engine.replace(engine.find(alias), alias.size(), "properties");
    EXPECT_EQ(expression, engine);
  }
  EXPECT_EQ(*HotIndexExpression(kStatus), "json_extract(properties, '$.\"task\".\"status\"')");

  std::set<std::string> names;
  for (const std::string field : {"properties.a.b", "properties.a_b", "properties.a-b",
                                  "properties.A.b", "properties.ab", "properties.a.b.c"}) {
    ASSERT_OK_AND_ASSIGN(std::string name, HotIndexName(field));
    EXPECT_EQ(name.rfind("nodes_hot_", 0), 0u) << name;
    for (char c : name) EXPECT_TRUE(std::islower(c) || std::isdigit(c) || c == '_') << name;
    EXPECT_EQ(HotIndexName(field).value(), name);  // stable
    names.insert(name);
  }
  EXPECT_EQ(names.size(), 6u);
  ASSERT_OK_AND_ASSIGN(std::string long_name, HotIndexName("properties." + std::string(200, 'a')));
  EXPECT_LE(long_name.size(), std::string("nodes_hot_").size() + 40 + 1 + 8);

  for (const std::string bad : {"title", "type", "properties.", "properties.a..b", "properties.a b",
                                "properties.a'b", "properties.a\"b"}) {
    EXPECT_FALSE(HotIndexName(bad).ok()) << bad;
    EXPECT_FALSE(HotIndexExpression(bad).ok()) << bad;
  }
}

TEST_F(HotIndexTest, RespectsTheMinUsesThreshold) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  ASSERT_NO_FATAL_FAILURE(OpenRaw());
  HotIndexPolicy policy;
  policy.min_uses = 20;
  // 19 uses, split between filters and sorts: not yet.
  ASSERT_OK_AND_ASSIGN(HotIndexReport report,
                       RebuildHotIndexes(*conn_, {Use(kStatus, 10, 9, kT0)}, policy, kT0, false));
  EXPECT_TRUE(report.created.empty());
  ASSERT_OK_AND_ASSIGN(std::vector<HotIndex> listed, ListHotIndexes(*conn_));
  EXPECT_TRUE(listed.empty());
  // The 20th counts, whether a filter or a sort.
  ASSERT_OK_AND_ASSIGN(report,
                       RebuildHotIndexes(*conn_, {Use(kStatus, 10, 10, kT0)}, policy, kT0, false));
  EXPECT_EQ(Fields(report.created), std::vector<std::string>{kStatus});
  ASSERT_OK_AND_ASSIGN(listed, ListHotIndexes(*conn_));
  EXPECT_EQ(Fields(listed), std::vector<std::string>{kStatus});
  // Once built, an index stays below the threshold (only disuse or hotter
  // fields remove it).
  ASSERT_OK_AND_ASSIGN(
      report, RebuildHotIndexes(*conn_, {Use(kStatus, 1, 0, kT0 + 5)}, policy, kT0, false));
  EXPECT_TRUE(report.created.empty());
  EXPECT_TRUE(report.dropped.empty());
  ASSERT_EQ(report.kept.size(), 1u);
  EXPECT_EQ(report.kept[0].last_used_ms, kT0 + 5);
}

TEST_F(HotIndexTest, MaxIndexesKeepsTheTopFields) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  ASSERT_NO_FATAL_FAILURE(OpenRaw());
  HotIndexPolicy policy;
  policy.max_indexes = 2;
  const std::string x = "properties.x", y = "properties.y", z = "properties.z";
  // Ranked by filters + sorts; y and z tie and y wins by name.
  std::vector<FieldUsage> usage = {Use(z, 40, 0, kT0), Use(x, 10, 40, kT0), Use(y, 20, 20, kT0),
                                   Use(kPriority, 30, 0, kT0)};
  ASSERT_OK_AND_ASSIGN(HotIndexReport report, RebuildHotIndexes(*conn_, usage, policy, kT0, false));
  EXPECT_EQ(Fields(report.created), (std::vector<std::string>{x, y}));
  ASSERT_OK_AND_ASSIGN(std::vector<HotIndex> listed, ListHotIndexes(*conn_));
  EXPECT_EQ(listed.size(), 2u);

  // Later (say after a restart) z is the hottest and x is still in use: z
  // displaces y, the least used of the indexed fields.
  usage = {Use(z, 100, 0, kT0 + kDayMs), Use(x, 3, 0, kT0 + kDayMs)};
  ASSERT_OK_AND_ASSIGN(report, RebuildHotIndexes(*conn_, usage, policy, kT0 + kDayMs, false));
  EXPECT_EQ(Fields(report.created), std::vector<std::string>{z});
  EXPECT_EQ(Fields(report.kept), std::vector<std::string>{x});
  EXPECT_EQ(Fields(report.dropped), std::vector<std::string>{y});
  ASSERT_OK_AND_ASSIGN(listed, ListHotIndexes(*conn_));
  ASSERT_EQ(listed.size(), 2u);
  for (const HotIndex& i : listed) EXPECT_NE(i.field, y);
  ASSERT_OK_AND_ASSIGN(int64_t rows, MetaRows());
  EXPECT_EQ(rows, 2);

  // A smaller cap drops the least used.
  policy.max_indexes = 1;
  ASSERT_OK_AND_ASSIGN(report, RebuildHotIndexes(*conn_, usage, policy, kT0 + kDayMs, false));
  EXPECT_EQ(Fields(report.kept), std::vector<std::string>{z});
  EXPECT_EQ(Fields(report.dropped), std::vector<std::string>{x});
  policy.max_indexes = 0;
  ASSERT_OK_AND_ASSIGN(report, RebuildHotIndexes(*conn_, usage, policy, kT0 + kDayMs, false));
  EXPECT_EQ(Fields(report.dropped), std::vector<std::string>{z});
  ASSERT_OK_AND_ASSIGN(listed, ListHotIndexes(*conn_));
  EXPECT_TRUE(listed.empty());
}

TEST_F(HotIndexTest, DropsAnIndexUnusedForTooLong) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  ASSERT_NO_FATAL_FAILURE(OpenRaw());
  const HotIndexPolicy policy;  // a week
  const int64_t week = policy.drop_unused_after_ms;
  ASSERT_OK_AND_ASSIGN(HotIndexReport report,
                       RebuildHotIndexes(*conn_, {Use(kStatus, 50, 0, kT0)}, policy, kT0, false));
  ASSERT_EQ(report.created.size(), 1u);
  const std::string name = report.created[0].name;

  // A restart: no usage yet. Within the week it stays.
  ASSERT_OK_AND_ASSIGN(report, RebuildHotIndexes(*conn_, {}, policy, kT0 + week - 1, false));
  EXPECT_EQ(Names(report.kept), std::vector<std::string>{name});
  EXPECT_TRUE(report.dropped.empty());
  // A use refreshes the stored last use, which outlives the process's counts.
  ASSERT_OK_AND_ASSIGN(report, RebuildHotIndexes(*conn_, {Use(kStatus, 1, 0, kT0 + 3 * kDayMs)},
                                                 policy, kT0 + 4 * kDayMs, false));
  ASSERT_EQ(report.kept.size(), 1u);
  EXPECT_EQ(report.kept[0].last_used_ms, kT0 + 3 * kDayMs);
  EXPECT_EQ(report.kept[0].created_ms, kT0);
  ASSERT_OK_AND_ASSIGN(report,
                       RebuildHotIndexes(*conn_, {}, policy, kT0 + 3 * kDayMs + week - 1, false));
  EXPECT_EQ(Names(report.kept), std::vector<std::string>{name});
  // A week after the last use it goes, with its bookkeeping.
  ASSERT_OK_AND_ASSIGN(report,
                       RebuildHotIndexes(*conn_, {}, policy, kT0 + 3 * kDayMs + week, false));
  EXPECT_EQ(Names(report.dropped), std::vector<std::string>{name});
  EXPECT_EQ(report.dropped[0].last_used_ms, kT0 + 3 * kDayMs);
  ASSERT_OK_AND_ASSIGN(std::vector<HotIndex> listed, ListHotIndexes(*conn_));
  EXPECT_TRUE(listed.empty());
  ASSERT_OK_AND_ASSIGN(int64_t rows, MetaRows());
  EXPECT_EQ(rows, 0);
  // Counts recorded long ago do not build an index that would be dropped at once.
  ASSERT_OK_AND_ASSIGN(
      report, RebuildHotIndexes(*conn_, {Use(kStatus, 50, 0, kT0)}, policy, kT0 + week, false));
  EXPECT_TRUE(report.created.empty());
}

TEST_F(HotIndexTest, DryRunReportsWithoutChangingAnything) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  ASSERT_NO_FATAL_FAILURE(OpenRaw());
  const HotIndexPolicy policy;
  std::vector<FieldUsage> usage = {Use(kStatus, 50, 0, kT0)};
  ASSERT_OK_AND_ASSIGN(HotIndexReport report, RebuildHotIndexes(*conn_, usage, policy, kT0, true));
  EXPECT_EQ(Fields(report.created), std::vector<std::string>{kStatus});
  ASSERT_OK_AND_ASSIGN(std::vector<HotIndex> listed, ListHotIndexes(*conn_));
  EXPECT_TRUE(listed.empty());
  ASSERT_OK_AND_ASSIGN(int64_t rows, MetaRows());
  EXPECT_EQ(rows, 0);

  ASSERT_OK_AND_ASSIGN(report, RebuildHotIndexes(*conn_, usage, policy, kT0, false));
  ASSERT_EQ(report.created.size(), 1u);
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> row,
                       storage::ReadMeta(*conn_, "hot_index:" + report.created[0].name));
  ASSERT_TRUE(row.has_value());
  // A dry run of a refresh and of a drop: the report says so, the file is as it was.
  ASSERT_OK_AND_ASSIGN(
      report, RebuildHotIndexes(*conn_, {Use(kStatus, 1, 0, kT0 + 9)}, policy, kT0 + 10, true));
  ASSERT_EQ(report.kept.size(), 1u);
  EXPECT_EQ(report.kept[0].last_used_ms, kT0 + 9);
  ASSERT_OK_AND_ASSIGN(
      report, RebuildHotIndexes(*conn_, {}, policy, kT0 + policy.drop_unused_after_ms, true));
  EXPECT_EQ(report.dropped.size(), 1u);
  ASSERT_OK_AND_ASSIGN(listed, ListHotIndexes(*conn_));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].last_used_ms, kT0);
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> after,
                       storage::ReadMeta(*conn_, "hot_index:" + listed[0].name));
  EXPECT_EQ(after, row);
}

TEST_F(HotIndexTest, SkipsFieldsThatAreNotValidPropertyPaths) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  ASSERT_NO_FATAL_FAILURE(OpenRaw());
  std::vector<FieldUsage> usage;
  for (const std::string bad :
       {"properties.a b", "properties.", "properties.a..b", "properties.x'); DROP TABLE nodes; --",
        "title", "created_at", "type", "nosuch"}) {
    usage.push_back(Use(bad, 1000, 0, kT0));
  }
  usage.push_back(Use(kStatus, 20, 0, kT0));
  ASSERT_OK_AND_ASSIGN(HotIndexReport report, RebuildHotIndexes(*conn_, usage, {}, kT0, false));
  EXPECT_EQ(Fields(report.created), std::vector<std::string>{kStatus});
  ASSERT_OK_AND_ASSIGN(std::vector<HotIndex> listed, ListHotIndexes(*conn_));
  EXPECT_EQ(Fields(listed), std::vector<std::string>{kStatus});
  ASSERT_OK_AND_ASSIGN(int64_t nodes, conn_->QueryInt("SELECT count(*) FROM nodes"));
  EXPECT_EQ(nodes, kNodes);
}

TEST_F(HotIndexTest, IndexesWithoutBookkeepingAreDroppedOnlyWhenUnused) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  ASSERT_NO_FATAL_FAILURE(OpenRaw());
  // Someone else's indexes under our prefix: one on an expression we build,
  // one on columns.
  ASSERT_OK(
      conn_->Exec("CREATE INDEX nodes_hot_theirs ON nodes(json_extract(properties, '$.\"x\"'));"
                  "CREATE INDEX nodes_hot_columns ON nodes(node_type, title);"
                  "CREATE INDEX other_prefix ON nodes(json_extract(properties, '$.\"y\"'));"));
  ASSERT_OK_AND_ASSIGN(std::vector<HotIndex> listed, ListHotIndexes(*conn_));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].name, "nodes_hot_columns");
  EXPECT_EQ(listed[0].field, "");
  EXPECT_EQ(listed[1].name, "nodes_hot_theirs");
  EXPECT_EQ(listed[1].field, "properties.x");
  for (const HotIndex& i : listed) {
    EXPECT_EQ(i.created_ms, 0);
    EXPECT_EQ(i.last_used_ms, 0);
  }

  // Early enough that "last used at 0" is recent: they are not ranked away,
  // and they fill the cap.
  HotIndexPolicy policy;
  policy.max_indexes = 2;
  const int64_t early = policy.drop_unused_after_ms - 1;
  ASSERT_OK_AND_ASSIGN(
      HotIndexReport report,
      RebuildHotIndexes(*conn_, {Use(kStatus, 500, 0, early)}, policy, early, false));
  EXPECT_TRUE(report.created.empty());
  EXPECT_TRUE(report.dropped.empty());
  EXPECT_EQ(Names(report.kept),
            (std::vector<std::string>{"nodes_hot_columns", "nodes_hot_theirs"}));

  // Later, only the one whose field is in use survives; that use is written
  // down, and x is not indexed a second time.
  ASSERT_OK_AND_ASSIGN(
      report, RebuildHotIndexes(*conn_, {Use("properties.x", 500, 0, kT0)}, policy, kT0, false));
  EXPECT_EQ(Names(report.dropped), std::vector<std::string>{"nodes_hot_columns"});
  EXPECT_EQ(Names(report.kept), std::vector<std::string>{"nodes_hot_theirs"});
  EXPECT_TRUE(report.created.empty());
  ASSERT_OK_AND_ASSIGN(listed, ListHotIndexes(*conn_));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].created_ms, 0);
  EXPECT_EQ(listed[0].last_used_ms, kT0);
  ASSERT_OK_AND_ASSIGN(int64_t other, conn_->QueryInt("SELECT count(*) FROM sqlite_master WHERE "
                                                      "name = 'other_prefix'"));
  EXPECT_EQ(other, 1);

  // A bookkeeping row that does not match its index's expression is ignored.
  ASSERT_OK(conn_->Exec(
      "UPDATE meta SET value = '{\"field\":\"properties.y\",\"created_ms\":5,\"last_used_ms\":5}' "
      "WHERE key = 'hot_index:nodes_hot_theirs'"));
  ASSERT_OK_AND_ASSIGN(listed, ListHotIndexes(*conn_));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].field, "properties.x");
  EXPECT_EQ(listed[0].last_used_ms, 0);
}

TEST_F(HotIndexTest, BookkeepingOfAnIndexDroppedElsewhereIsRemoved) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  ASSERT_NO_FATAL_FAILURE(OpenRaw());
  ASSERT_OK_AND_ASSIGN(HotIndexReport report,
                       RebuildHotIndexes(*conn_, {Use(kStatus, 50, 0, kT0)}, {}, kT0, false));
  ASSERT_EQ(report.created.size(), 1u);
  ASSERT_OK(conn_->Exec("DROP INDEX " + report.created[0].name));
  ASSERT_OK_AND_ASSIGN(report, RebuildHotIndexes(*conn_, {}, {}, kT0 + 1, false));
  EXPECT_TRUE(report.created.empty() && report.dropped.empty() && report.kept.empty());
  ASSERT_OK_AND_ASSIGN(int64_t rows, MetaRows());
  EXPECT_EQ(rows, 0);
  // Still hot: built again.
  ASSERT_OK_AND_ASSIGN(report,
                       RebuildHotIndexes(*conn_, {Use(kStatus, 50, 0, kT0)}, {}, kT0 + 2, false));
  EXPECT_EQ(Fields(report.created), std::vector<std::string>{kStatus});
}

TEST_F(HotIndexTest, AFailureLeavesNothingHalfDone) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  ASSERT_NO_FATAL_FAILURE(OpenRaw());
  const HotIndexPolicy policy;
  ASSERT_OK_AND_ASSIGN(HotIndexReport report,
                       RebuildHotIndexes(*conn_, {Use(kStatus, 50, 0, kT0)}, policy, kT0, false));
  ASSERT_EQ(report.created.size(), 1u);
  const std::string old_name = report.created[0].name;
  // A table holding the name the next index needs makes its CREATE INDEX
  // fail after the old index was dropped in the same transaction.
  ASSERT_OK_AND_ASSIGN(std::string blocked, HotIndexName(kPriority));
  ASSERT_OK(conn_->Exec("CREATE TABLE " + blocked + "(a)"));
  const int64_t later = kT0 + policy.drop_unused_after_ms;
  auto failed =
      RebuildHotIndexes(*conn_, {Use(kPriority, 50, 0, later)}, policy, later, /*dry_run=*/false);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().ToString().find("properties.priority"), std::string::npos)
      << failed.status().ToString();
  ASSERT_OK_AND_ASSIGN(std::vector<HotIndex> listed, ListHotIndexes(*conn_));
  ASSERT_EQ(Names(listed), std::vector<std::string>{old_name});
  EXPECT_EQ(listed[0].last_used_ms, kT0);
  ASSERT_OK_AND_ASSIGN(int64_t rows, MetaRows());
  EXPECT_EQ(rows, 1);
  // No transaction is left open, and the next try succeeds.
  EXPECT_NE(sqlite3_get_autocommit(conn_->raw()), 0);
  ASSERT_OK(conn_->Exec("DROP TABLE " + blocked));
  ASSERT_OK_AND_ASSIGN(
      report, RebuildHotIndexes(*conn_, {Use(kPriority, 50, 0, later)}, policy, later, false));
  EXPECT_EQ(Names(report.dropped), std::vector<std::string>{old_name});
  EXPECT_EQ(Fields(report.created), std::vector<std::string>{kPriority});
}

// The engine accepts properties nested deeper than SQLite's JSON parser
// reads (2000 levels); json_extract fails on such a row, so no index on a
// property can be built while it exists. The rebuild says so and changes
// nothing.
TEST_F(HotIndexTest, APropertyRowSqliteCannotReadFailsTheRebuildCleanly) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  NewNode deep;
  deep.id = "deep";
  deep.content = "deep";
  deep.properties = "{\"d\":" + std::string(2100, '[') + std::string(2100, ']') + "}";
  // The engine refuses such properties; a row written behind its back (an
  // older version, another tool) must still fail the rebuild cleanly.
  auto refused = db_->Create(deep);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("nest deeper"), std::string::npos);
  deep.properties = "{}";
  ASSERT_TRUE(db_->Create(deep).ok());
  ASSERT_NO_FATAL_FAILURE(OpenRaw());
  ASSERT_OK(conn_->Exec("UPDATE nodes SET properties = '{\"d\":" + std::string(2100, '[') +
                        std::string(2100, ']') + "}' WHERE id = 'deep'"));
  auto failed = RebuildHotIndexes(*conn_, {Use(kStatus, 50, 0, kT0)}, {}, kT0, false);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().ToString().find("malformed JSON"), std::string::npos)
      << failed.status().ToString();
  ASSERT_OK_AND_ASSIGN(std::vector<HotIndex> listed, ListHotIndexes(*conn_));
  EXPECT_TRUE(listed.empty());
  ASSERT_OK_AND_ASSIGN(int64_t rows, MetaRows());
  EXPECT_EQ(rows, 0);
}

}  // namespace
}  // namespace nodespace::scaling
