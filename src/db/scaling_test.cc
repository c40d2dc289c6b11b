// The scaling manager end to end: metrics, triggers with tiny thresholds,
// what each action changes, memory tiers, the cost optimizer, durable
// history, one manager per database, and phase migration with rollback.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "nodespace/database.h"
#include "scaling/hot_indexes.h"
#include "scaling/memory_budget.h"
#include "scaling/operation_window.h"
#include "test_util.h"

namespace nodespace {
namespace {

using nlohmann::json;

constexpr int64_t kMiB = 1024 * 1024;

// Thresholds no dataset reaches, so a test enables exactly what it tests.
ScalingOptions Quiet() {
  ScalingOptions o;
  o.interval_ms = 0;  // checks run when the test says
  o.expensive_metrics_ms = 0;
  o.thresholds.avg_query_latency_ms = 1e12;
  o.thresholds.optimize_indexing_nodes = 1LL << 60;
  o.thresholds.partitioning_nodes = 1LL << 60;
  o.thresholds.tiered_storage_bytes = 1LL << 60;
  o.thresholds.vector_latency_ms = 1e12;
  o.thresholds.dedicated_vector_db_vectors = 1LL << 60;
  o.thresholds.memory_mb = 1LL << 40;
  o.thresholds.unindexed_hot_fields = 1LL << 60;
  o.thresholds.min_window_queries = 3;
  o.thresholds.rearm_ms = 0;
  return o;
}

const ScalingEvent* Find(const std::vector<ScalingEvent>& events, OptimizationAction action) {
  for (const ScalingEvent& e : events) {
    if (e.action == action) return &e;
  }
  return nullptr;
}

class ScalingTest : public ::testing::Test {
 protected:
  void Open(ScalingOptions scaling, Options options = {}) {
    db_.reset();
    options.scaling = std::move(scaling);
    options.info_log = [this](std::string_view line) { log_.emplace_back(line); };
    auto db = Database::Open(dir_.path(), options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
  }

  // n nodes under one root with 16-d vectors and a task status property.
  void Fill(int n, bool with_vectors = true) {
    std::mt19937 rng(11);
    std::normal_distribution<float> g;
    NewNode root;
    root.id = "root" + std::to_string(filled_);
    root.content = "# Root of batch " + std::to_string(filled_);
    ASSERT_TRUE(db_->Create(root).ok());
    WriteBatch batch;
    for (int i = 0; i < n; ++i) {
      NewNode node;
      node.id = "n" + std::to_string(filled_) + "-" + std::to_string(i);
      node.parent_id = root.id;
      node.content = "note " + std::to_string(i) + (i % 2 ? " about gardens" : " about kitchens");
      node.properties = i % 3 ? R"({"task":{"status":"open"}})" : R"({"task":{"status":"done"}})";
      if (with_vectors) {
        node.embedding.resize(16);
        for (float& x : node.embedding) x = g(rng);
      }
      batch.Create(std::move(node));
    }
    auto r = db_->Write(batch);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ++filled_;
  }

  Query StatusQuery(const std::string& status) {
    Query q;
    q.filter = Filter::Eq("properties.task.status", status);
    q.limit = 5;
    return q;
  }

  std::vector<float> SomeVector() {
    std::vector<float> v(16, 0.0f);
    v[0] = 1.0f;
    return v;
  }

  testing::TempDir dir_;
  // Declared before db_ so it outlives the database, whose manager thread may
  // still log while the database closes.
  std::vector<std::string> log_;
  std::unique_ptr<Database> db_;
  int filled_ = 0;
};

TEST_F(ScalingTest, EachCheckBringsTheHierarchyIndexToTheNewestChange) {
  Open(Quiet());
  Fill(50, /*with_vectors=*/false);
  auto forwarded = [this] {
    return std::count_if(log_.begin(), log_.end(), [](const std::string& line) {
      return line.find("derived indexes: hierarchy index brought forward") != std::string::npos;
    });
  };
  ASSERT_OK(db_->RunScalingCheck().status());
  EXPECT_EQ(forwarded(), 0) << "no query has built it: the check does not either";

  // A ranked query inside a subtree builds the index.
  Query under;
  under.text = "note";
  under.filter = Filter::And({Filter::Under("root0")});
  under.limit = 100;
  under.use_cache = false;
  ASSERT_OK_AND_ASSIGN(QueryResult built, db_->RunQuery(under));
  EXPECT_EQ(built.hits.size(), 50u);
  ASSERT_OK(db_->RunScalingCheck().status());
  EXPECT_EQ(forwarded(), 0) << "already at the newest change";

  // Written since: the check, not the next query, catches the index up.
  ASSERT_OK(
      db_->Create(NewNode{.id = "late", .parent_id = "root0", .content = "late note"}).status());
  ASSERT_OK_AND_ASSIGN(DatabaseStats stats, db_->Stats());
  ASSERT_OK(db_->RunScalingCheck().status());
  ASSERT_EQ(forwarded(), 1);
  EXPECT_NE(std::find_if(log_.begin(), log_.end(),
                         [&](const std::string& line) {
                           return line.find("brought forward to change " +
                                            std::to_string(stats.change_seq) + " in ") !=
                                  std::string::npos;
                         }),
            log_.end());
  ASSERT_OK_AND_ASSIGN(QueryResult after, db_->RunQuery(under));
  EXPECT_EQ(after.hits.size(), 51u);
  ASSERT_OK(db_->RunScalingCheck().status());
  EXPECT_EQ(forwarded(), 1);
}

TEST_F(ScalingTest, MetricsCoverEveryField) {
  Open(Quiet());
  Fill(200);
  ASSERT_OK_AND_ASSIGN(ScalingMetrics first, db_->CollectScalingMetrics());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(db_->RunQuery(StatusQuery("open")).ok());
  {
    scaling::ClientScope alice("alice");
    ASSERT_TRUE(db_->RunQuery(StatusQuery("done")).ok());
  }
  {
    scaling::ClientScope bob("bob");
    VectorSearchOptions vs;
    vs.vector = SomeVector();
    ASSERT_TRUE(db_->SearchVector(vs).ok());
  }
  Fill(10);  // change-log writes between the two samples
  ASSERT_OK_AND_ASSIGN(ScalingMetrics m, db_->CollectScalingMetrics());
  EXPECT_EQ(m.node_count, 200 + 1 + 10 + 1);
  EXPECT_EQ(m.vector_count, 210);
  EXPECT_GT(m.storage_size_bytes, 0);
  EXPECT_GT(m.index_size_bytes, 0);
  EXPECT_GT(m.memory_usage_mb, 0);
  EXPECT_GE(m.cpu_usage_percent, 0);
  EXPECT_GE(m.disk_io_mb_per_sec, 0);
  EXPECT_EQ(m.window_queries, 7);
  EXPECT_EQ(m.window_vector_queries, 1);
  EXPECT_GT(m.avg_query_latency_ms, 0);
  EXPECT_GT(m.p95_query_latency_ms, 0);
  EXPECT_GT(m.avg_vector_latency_ms, 0);
  EXPECT_EQ(m.concurrent_users, 3);  // local, alice, bob
  EXPECT_GT(m.queries_per_second, 0);
  EXPECT_GT(m.sync_operations_per_second, 0);
  // Repeating a query hits the cache (on by default).
  EXPECT_GE(m.query_cache_hit_rate, 3.0 / 6.0);
  EXPECT_GT(m.sample_cost_us, 0);
  EXPECT_GE(m.sampled_at_ms, first.sampled_at_ms);
}

TEST_F(ScalingTest, LatencyTriggerEnablesTheQueryCacheOnceAndCacheHitsAppear) {
  ScalingOptions s = Quiet();
  s.thresholds.avg_query_latency_ms = 0.000001;  // every query is "slow"
  Options o;
  o.query_cache_enabled = false;
  Open(s, o);
  Fill(100);
  const Query q = StatusQuery("open");
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK_AND_ASSIGN(QueryResult r, db_->RunQuery(q));
    EXPECT_FALSE(r.explain.cache_hit);
  }
  EXPECT_EQ(db_->QueryCacheStatistics().hits, 0u);

  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> events, db_->RunScalingCheck());
  const ScalingEvent* cache = Find(events, OptimizationAction::kEnableQueryCache);
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(cache->result, "applied");
  EXPECT_EQ(cache->message, "Query cache enabled due to latency > 0ms");
  EXPECT_NE(cache->trigger.find("avg query latency"), std::string::npos);
  EXPECT_TRUE(db_->QueryCacheStatistics().enabled);
  bool logged = false;
  for (const auto& line : log_) logged |= line == cache->message;
  EXPECT_TRUE(logged);

  ASSERT_TRUE(db_->RunQuery(q).ok());
  ASSERT_OK_AND_ASSIGN(QueryResult again, db_->RunQuery(q));
  EXPECT_TRUE(again.explain.cache_hit);
  EXPECT_GT(db_->QueryCacheStatistics().hits, 0u);

  // Hysteresis: still above the threshold, but the trigger has fired.
  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> second, db_->RunScalingCheck());
  EXPECT_EQ(Find(second, OptimizationAction::kEnableQueryCache), nullptr);
}

TEST_F(ScalingTest, OptimizeIndexingBuildsTheAnnIndexAndSearchesUseIt) {
  ScalingOptions s = Quiet();
  s.thresholds.optimize_indexing_nodes = 150;
  Options o;
  o.exact_search_max_vectors = 10;  // the graph is worth using above 10 vectors
  Open(s, o);
  Fill(100);
  VectorSearchOptions vs;
  vs.vector = SomeVector();
  ASSERT_OK_AND_ASSIGN(VectorSearchResult before, db_->SearchVector(vs));
  EXPECT_EQ(before.plan, "exact");
  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> none, db_->RunScalingCheck());
  EXPECT_EQ(Find(none, OptimizationAction::kOptimizeIndexing), nullptr);

  Fill(100);  // 202 nodes > 150
  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> events, db_->RunScalingCheck());
  const ScalingEvent* e = Find(events, OptimizationAction::kOptimizeIndexing);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->result, "applied") << e->message;
  EXPECT_EQ(e->message, "Index optimization applied due to dataset size > 150 nodes");
  json detail = json::parse(e->detail_json);
  EXPECT_EQ(detail["vector_index_before"]["kind"], "flat");
  EXPECT_EQ(detail["vector_index_after"]["kind"], "hnsw");
  EXPECT_TRUE(std::filesystem::exists(dir_.Sub("vectors.idx")));

  ASSERT_OK_AND_ASSIGN(VectorSearchResult after, db_->SearchVector(vs));
  EXPECT_EQ(after.plan, "graph");
  ASSERT_FALSE(after.hits.empty());
  // Exact search over the same data finds the same nearest node.
  vs.exact = true;
  ASSERT_OK_AND_ASSIGN(VectorSearchResult exact, db_->SearchVector(vs));
  EXPECT_EQ(exact.hits[0].node.id, after.hits[0].node.id);
}

TEST_F(ScalingTest, ADatabaseAlreadyPastTheThresholdStartsWithTheGraph) {
  ScalingOptions s = Quiet();
  s.thresholds.optimize_indexing_nodes = 50;
  Options o;
  o.exact_search_max_vectors = 10;
  Open(s, o);
  Fill(100);  // vectors arrive with 101 nodes stored: past 50
  VectorSearchOptions vs;
  vs.vector = SomeVector();
  ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db_->SearchVector(vs));
  EXPECT_EQ(r.plan, "graph");
  EXPECT_TRUE(std::filesystem::exists(dir_.Sub("vectors.idx")));
}

TEST_F(ScalingTest, HotIndexesAppearForTheFilteredProperty) {
  ScalingOptions s = Quiet();
  s.thresholds.avg_query_latency_ms = 0.000001;
  Open(s);
  Fill(300, false);
  for (int i = 0; i < 25; ++i) {
    Query q = StatusQuery(i % 2 ? "open" : "done");
    q.use_cache = false;
    ASSERT_TRUE(db_->RunQuery(q).ok());
  }
  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> events, db_->RunScalingCheck());
  const ScalingEvent* e = Find(events, OptimizationAction::kRebuildHotIndexes);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->result, "applied") << e->message;
  json detail = json::parse(e->detail_json);
  ASSERT_EQ(detail["created"].size(), 1u);
  EXPECT_EQ(detail["created"][0]["field"], "properties.task.status");

  // SQLite plans the engine's filter through the new index.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open_v2(dir_.Sub("nodespace.db").c_str(), &raw, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw,
                               "EXPLAIN QUERY PLAN SELECT n.rowid FROM nodes n WHERE "
                               "json_extract(n.properties, '$.\"task\".\"status\"') = 'open'",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  std::string plan;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
    plan += "; ";
  }
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
  EXPECT_NE(plan.find("nodes_hot_"), std::string::npos) << plan;
  // And the query still answers the same.
  ASSERT_OK_AND_ASSIGN(QueryResult r, db_->RunQuery(StatusQuery("done")));
  EXPECT_EQ(r.hits.size(), 5u);
}

// The query that makes a property hot (its 5th use) wakes the manager's
// thread, whose check sees the field due an index (the hot_fields trigger)
// and builds it, an hour before its next interval.
TEST_F(ScalingTest, TheUseThatMakesAPropertyHotGetsItsIndexBeforeTheNextInterval) {
  ScalingOptions s = Quiet();
  s.interval_ms = 3600 * 1000;
  s.thresholds.unindexed_hot_fields = 0;
  Open(s);
  Fill(300, false);
  auto query = [&](int i) {
    Query q = StatusQuery(i % 2 ? "open" : "done");
    q.use_cache = false;
    ASSERT_TRUE(db_->RunQuery(q).ok());
  };
  const int hot = static_cast<int>(scaling::HotIndexPolicy{}.min_uses);
  for (int i = 0; i + 1 < hot; ++i) query(i);
  ASSERT_OK_AND_ASSIGN(ScalingMetrics m, db_->CollectScalingMetrics());
  EXPECT_EQ(m.unindexed_hot_fields, 0);
  auto built_by_then = [&] {
    // The Result is kept: iterating over *ScalingHistory(...) would read a
    // destroyed temporary.
    Result<std::vector<ScalingEvent>> history = db_->ScalingHistory(100);
    if (!history.ok()) return false;
    for (const ScalingEvent& e : *history) {
      if (e.action == OptimizationAction::kRebuildHotIndexes) return true;
    }
    return false;
  };
  EXPECT_FALSE(built_by_then());
  query(hot - 1);
  std::optional<ScalingEvent> built;
  for (int waited_ms = 0; !built && waited_ms < 60000; waited_ms += 20) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> history, db_->ScalingHistory(100));
    for (const ScalingEvent& e : history) {
      if (e.action == OptimizationAction::kRebuildHotIndexes) built = e;
    }
  }
  ASSERT_TRUE(built.has_value());
  EXPECT_EQ(built->result, "applied") << built->message;
  EXPECT_NE(built->trigger.find("1 property field(s) queried often enough"), std::string::npos)
      << built->trigger;
  json detail = json::parse(built->detail_json);
  ASSERT_EQ(detail["created"].size(), 1u);
  EXPECT_EQ(detail["created"][0]["field"], "properties.task.status");
  ASSERT_OK_AND_ASSIGN(m, db_->CollectScalingMetrics());
  EXPECT_EQ(m.unindexed_hot_fields, 0);
}

// Slow queries and a property queried often enough both call for
// RebuildHotIndexes; a check that sees both runs it once.
TEST_F(ScalingTest, AnActionTwoTriggersFireRunsOncePerCheck) {
  ScalingOptions s = Quiet();
  s.thresholds.avg_query_latency_ms = 0.000001;
  s.thresholds.unindexed_hot_fields = 0;
  Open(s);
  Fill(300, false);
  for (size_t i = 0; i < scaling::HotIndexPolicy{}.min_uses; ++i) {
    Query q = StatusQuery(i % 2 ? "open" : "done");
    q.use_cache = false;
    ASSERT_TRUE(db_->RunQuery(q).ok());
  }
  ASSERT_OK_AND_ASSIGN(ScalingMetrics m, db_->CollectScalingMetrics());
  ASSERT_EQ(m.unindexed_hot_fields, 1);
  ASSERT_GT(m.avg_query_latency_ms, s.thresholds.avg_query_latency_ms);
  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> events, db_->RunScalingCheck());
  // The latency trigger fired (its other action ran) ...
  EXPECT_NE(Find(events, OptimizationAction::kEnableQueryCache), nullptr);
  // ... and the hot index was built by one run, not two.
  const auto rebuilds = std::count_if(events.begin(), events.end(), [](const ScalingEvent& e) {
    return e.action == OptimizationAction::kRebuildHotIndexes;
  });
  EXPECT_EQ(rebuilds, 1);
  const ScalingEvent* rebuild = Find(events, OptimizationAction::kRebuildHotIndexes);
  ASSERT_NE(rebuild, nullptr);
  EXPECT_EQ(rebuild->result, "applied") << rebuild->message;
  EXPECT_EQ(json::parse(rebuild->detail_json)["created"].size(), 1u);
}

// Over its share of the tier (below 10K nodes: 100 MB cache + 50 MB vector
// cache), or holding so much besides SQLite that SQLite would get less than
// the tier's cache, a check hands the heap the process freed back to the
// system and says so; well under it, nothing happens.
TEST_F(ScalingTest, AProcessOverItsTierReturnsTheHeapItFreed) {
  Open(Quiet());
  Fill(10, false);
  auto trimmed = [&] {
    return std::any_of(log_.begin(), log_.end(), [](const std::string& line) {
      return line.find("memory tier: resident") != std::string::npos;
    });
  };
  ASSERT_OK_AND_ASSIGN(ScalingMetrics m, db_->CollectScalingMetrics());
  if (m.memory_usage_mb <= 50) {
    ASSERT_TRUE(db_->RunScalingCheck().ok());
    EXPECT_FALSE(trimmed());
  }
  {
    // 256 MB of small blocks, all but every 64th freed again: the kept ones
    // hold the freed ones between them, so the allocator keeps them resident.
    std::vector<std::unique_ptr<char[]>> blocks;
    for (int i = 0; i < 256 * 1024; ++i) {
      blocks.emplace_back(new char[1024]);
      std::memset(blocks.back().get(), 1, 1024);
    }
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (i % 64 != 0) blocks[i].reset();
    }
    ASSERT_TRUE(db_->RunScalingCheck().ok());
  }
  EXPECT_TRUE(trimmed());
}

// The tier's cache + vector cache is the budget of the engine and its vector
// service together: memory the engine holds besides SQLite comes out of
// SQLite's share, down to a floor, and goes back to it when freed.
TEST_F(ScalingTest, SqlitesHeapLimitLeavesRoomForTheEnginesOtherMemory) {
  Open(Quiet());
  Fill(10, false);
  // Below 10K nodes: 100 MB cache + 50 MB vector cache, floor 12 MB.
  const int64_t floor_mb = scaling::SqliteHeapFloorMb(MemoryConfigForNodeCount(10));
  auto limit_mb = [&] {
    Result<ScalingStatus> st = db_->GetScalingStatus();
    EXPECT_TRUE(st.ok()) << st.status().ToString();
    // What the status says is what SQLite applies.
    EXPECT_EQ(st->sqlite_heap_limit_mb * kMiB, sqlite3_soft_heap_limit64(-1));
    return st->sqlite_heap_limit_mb;
  };
  ASSERT_TRUE(db_->RunScalingCheck().ok());
  const int64_t before_mb = limit_mb();
  EXPECT_GE(before_mb, floor_mb);
  EXPECT_LE(before_mb, 100);
  {
    // 300 MB held by the process is more than the whole tier.
    std::vector<char> held(300 * kMiB, 1);
    ASSERT_TRUE(db_->RunScalingCheck().ok());
    EXPECT_EQ(limit_mb(), floor_mb);
    EXPECT_EQ(held[held.size() / 2], 1);
  }
  EXPECT_TRUE(std::any_of(log_.begin(), log_.end(), [](const std::string& line) {
    return line.find("memory tier: SQLite heap limit") != std::string::npos;
  }));
  ASSERT_OK_AND_ASSIGN(ScalingMetrics m, db_->CollectScalingMetrics());
  ASSERT_TRUE(db_->RunScalingCheck().ok());
  // Freed again: SQLite gets its share back, unless this process is over
  // the tier on its own (a sanitizer's shadow memory is).
  if (m.memory_usage_mb < 100) EXPECT_GT(limit_mb(), floor_mb);
}

// A hot index is worth something to vector queries only if the planner
// knows SQLite can list the filter's rows through it: filter_first is then
// costed as fetching the matching rows, not as a scan of every row's JSON.
TEST_F(ScalingTest, TheFilterFirstPlanCountsOnAHotIndex) {
  ScalingOptions s = Quiet();
  s.thresholds.avg_query_latency_ms = 0.000001;
  Open(s);
  Fill(300);
  auto filtered_knn = [&] {
    Query q = StatusQuery("done");
    q.vector = SomeVector();
    q.limit = 10;
    q.explain = true;
    q.use_cache = false;
    return q;
  };
  ASSERT_OK_AND_ASSIGN(QueryResult before, db_->RunQuery(filtered_knn()));
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(db_->RunQuery(filtered_knn()).ok());
  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> events, db_->RunScalingCheck());
  const ScalingEvent* e = Find(events, OptimizationAction::kRebuildHotIndexes);
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->result, "applied") << e->message;

  ASSERT_OK_AND_ASSIGN(QueryResult after, db_->RunQuery(filtered_knn()));
  // 301 rows scanned against the ~100 "done" rows listed from the index.
  EXPECT_LT(after.explain.estimated_cost_us.at("filter_first"),
            before.explain.estimated_cost_us.at("filter_first"));
  // The same answer whatever the plan.
  ASSERT_EQ(after.hits.size(), before.hits.size());
  for (size_t i = 0; i < before.hits.size(); ++i) {
    EXPECT_EQ(after.hits[i].node.id, before.hits[i].node.id);
  }
}

TEST_F(ScalingTest, MemoryTiersBoundTheCachesAndThreads) {
  Open(Quiet());
  ASSERT_OK_AND_ASSIGN(ScalingStatus st, db_->GetScalingStatus());
  EXPECT_TRUE(st.memory_tier_applied);
  EXPECT_EQ(st.memory.cache_size_mb, 100);
  EXPECT_EQ(st.background_threads, 1);
  EXPECT_EQ(db_->QueryCacheStatistics().max_entries, 1000u);

  Fill(10050, false);  // crosses into the 10K-100K tier
  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> events, db_->RunScalingCheck());
  const ScalingEvent* e = Find(events, OptimizationAction::kApplyMemoryTier);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->result, "applied");
  EXPECT_EQ(json::parse(e->detail_json)["tier"]["cache_size_mb"], 500);
  EXPECT_EQ(db_->QueryCacheStatistics().max_entries, 10000u);
  ASSERT_OK_AND_ASSIGN(ScalingStatus after, db_->GetScalingStatus());
  EXPECT_EQ(after.memory.cache_size_mb, 500);
  EXPECT_EQ(after.background_threads, 2);

  // An operator may re-apply the tier; it follows the node count.
  Open(Quiet());
  db_->ConfigureQueryCache(true, 64 << 20, 60000);
  ASSERT_OK_AND_ASSIGN(ScalingEvent tier,
                       db_->ApplyScalingAction(OptimizationAction::kApplyMemoryTier));
  EXPECT_EQ(tier.result, "applied");
  EXPECT_EQ(db_->QueryCacheStatistics().max_entries, 10000u);  // 10,052 nodes now
}

TEST_F(ScalingTest, QueryCacheEntryBoundEvictsBeyondIt) {
  Open(Quiet());
  Fill(20, false);
  db_->ConfigureQueryCache(true, 256 << 20, 60000);  // bytes are no limit here
  // Tier 1 allows 1,000 entries; 1,100 distinct queries leave 1,000.
  for (int i = 0; i < 1100; ++i) {
    Query q;
    q.text = "note";
    q.text_any = i >= 1000;
    q.limit = 1 + i % 1000;
    ASSERT_TRUE(db_->RunQuery(q).ok());
  }
  const QueryCacheStats stats = db_->QueryCacheStatistics();
  EXPECT_EQ(stats.max_entries, 1000u);
  EXPECT_EQ(stats.entries, 1000u);
  EXPECT_GE(stats.evictions, 100u);
}

TEST_F(ScalingTest, MemoryTriggerShrinksCaches) {
  ScalingOptions s = Quiet();
  s.thresholds.memory_mb = 1;  // any process is above 1 MB
  Open(s);
  Fill(100);
  const size_t before = db_->QueryCacheStatistics().capacity_bytes;
  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> events, db_->RunScalingCheck());
  const ScalingEvent* e = Find(events, OptimizationAction::kOptimizeMemoryUsage);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->result, "applied") << e->message;
  EXPECT_EQ(db_->QueryCacheStatistics().capacity_bytes, before / 2);
  json detail = json::parse(e->detail_json);
  EXPECT_TRUE(detail.contains("rss_before_mb"));
  EXPECT_TRUE(detail.contains("rss_after_mb"));
}

// Still over budget after the caches shrink: the graph walks on int8 codes
// from then on (quantized in place, not rebuilt) and searches still answer.
TEST_F(ScalingTest, MemoryTriggerQuantizesTheVectorGraph) {
  ScalingOptions s = Quiet();
  s.thresholds.memory_mb = 1;
  Options options;
  options.exact_search_max_vectors = 10;  // searches walk the graph
  Open(s, options);
  Fill(400);
  ASSERT_OK(db_->ApplyScalingAction(OptimizationAction::kOptimizeIndexing).status());
  ASSERT_OK_AND_ASSIGN(ScalingEvent e,
                       db_->ApplyScalingAction(OptimizationAction::kOptimizeMemoryUsage));
  EXPECT_EQ(e.result, "applied") << e.message;
  json detail = json::parse(e.detail_json);
  EXPECT_EQ(detail["vector_indexes_quantized"], 1) << e.detail_json;
  EXPECT_EQ(detail["vector_index_after_quantize"]["tuning"]["int8"], true);
  EXPECT_EQ(detail["vector_index_after_quantize"]["mapped"], true);
  bool logged = false;
  for (const std::string& line : log_)
    logged |= line.find("quantized to int8 in place") != std::string::npos;
  EXPECT_TRUE(logged);
  VectorSearchOptions q;
  q.vector = SomeVector();
  q.k = 10;
  ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db_->SearchVector(q));
  EXPECT_EQ(r.hits.size(), 10u);
  EXPECT_EQ(r.plan, "graph");
  // A filtered query that walks first ranks the walk's candidates by code
  // and re-scores only what passes the filter: the hits and scores of
  // filter_first, which scans every allowed code and re-scores the best.
  std::vector<std::vector<std::string>> ids;
  std::vector<std::vector<double>> scores;
  for (QueryStrategy strategy : {QueryStrategy::kVectorFirst, QueryStrategy::kFilterFirst}) {
    Query fq = StatusQuery("done");
    fq.vector = SomeVector();
    fq.limit = 10;
    fq.explain = true;
    fq.use_cache = false;
    fq.strategy = strategy;
    ASSERT_OK_AND_ASSIGN(QueryResult hits, db_->RunQuery(fq));
    ASSERT_EQ(hits.hits.size(), 10u);
    ids.emplace_back();
    scores.emplace_back();
    for (const QueryHit& h : hits.hits) {
      ids.back().push_back(h.node.id);
      scores.back().push_back(h.score);
    }
    const std::string explain = hits.explain.ToString();
    if (strategy == QueryStrategy::kVectorFirst) {
      EXPECT_NE(explain.find("graph on codes"), std::string::npos) << explain;
      EXPECT_NE(explain.find("passing re-scored: exact_filtered"), std::string::npos) << explain;
    }
  }
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(scores[0], scores[1]);
  // Already quantized: the next time over budget has nothing to quantize.
  ASSERT_OK_AND_ASSIGN(e, db_->ApplyScalingAction(OptimizationAction::kOptimizeMemoryUsage));
  EXPECT_EQ(json::parse(e.detail_json)["vector_indexes_quantized"], 0) << e.detail_json;
}

TEST_F(ScalingTest, GrowthTriggersPartitionAndTierTheDatabase) {
  ScalingOptions s = Quiet();
  s.thresholds.partitioning_nodes = 10;
  s.thresholds.tiered_storage_bytes = 1;
  Open(s);
  Fill(20);
  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> events, db_->RunScalingCheck());
  for (OptimizationAction a :
       {OptimizationAction::kEnablePartitioning, OptimizationAction::kEnableTieredStorage}) {
    const ScalingEvent* e = Find(events, a);
    ASSERT_NE(e, nullptr) << OptimizationActionName(a);
    // Both actions split; whichever runs second finds the split done.
    EXPECT_TRUE(e->result == "applied" || e->result == "skipped") << e->message;
  }
  ASSERT_OK_AND_ASSIGN(PartitioningStatus p, db_->GetPartitioningStatus());
  EXPECT_EQ(p.state, "active");
  EXPECT_TRUE(p.tiering);
  ASSERT_OK_AND_ASSIGN(ScalingEvent replicas,
                       db_->ApplyScalingAction(OptimizationAction::kAddReadReplicas));
  EXPECT_EQ(replicas.result, "recommended");
  EXPECT_NE(replicas.message.find("recommended due to"), std::string::npos) << replicas.message;
}

TEST_F(ScalingTest, VectorLatencyTriggerRetunesTheIndex) {
  ScalingOptions s = Quiet();
  s.thresholds.vector_latency_ms = 0.000001;
  s.thresholds.rebuild_vector_index_vectors = 50;
  Open(s);
  Fill(120);
  VectorSearchOptions vs;
  vs.vector = SomeVector();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(db_->SearchVector(vs).ok());
  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> events, db_->RunScalingCheck());
  const ScalingEvent* e = Find(events, OptimizationAction::kRebuildVectorIndexes);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->result, "applied") << e->message;
  json detail = json::parse(e->detail_json);
  EXPECT_EQ(detail["after"]["kind"], "hnsw");
  EXPECT_EQ(detail["after"]["tuning"]["ef_search"], 64);
  ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db_->SearchVector(vs));
  EXPECT_EQ(r.hits.size(), 10u);
}

TEST_F(ScalingTest, QuantizingRightAfterOpenKeepsTheGraphOnDisk) {
  // A graph built with ef_construction 100, reopened by a process configured
  // with the default 200 that quantizes before any search has opened the
  // index: the action must see the file's parameters and quantize in place,
  // not rebuild the graph to the configured ones.
  Options built_with;
  built_with.hnsw_ef_construction = 100;
  Open(Quiet(), built_with);
  Fill(200);
  ASSERT_OK_AND_ASSIGN(ScalingEvent built,
                       db_->ApplyScalingAction(OptimizationAction::kOptimizeIndexing));
  ASSERT_EQ(json::parse(built.detail_json)["vector_index_after"]["kind"], "hnsw");
  Open(Quiet());
  log_.clear();
  ASSERT_OK_AND_ASSIGN(ScalingEvent e,
                       db_->ApplyScalingAction(OptimizationAction::kOptimizeEmbeddings));
  EXPECT_EQ(e.result, "applied") << e.message;
  json detail = json::parse(e.detail_json);
  EXPECT_EQ(detail["before"]["tuning"]["ef_construction"], 100);
  EXPECT_EQ(detail["after"]["tuning"]["ef_construction"], 100);
  EXPECT_EQ(detail["after"]["tuning"]["int8"], true);
  bool in_place = false, rebuilt = false;
  for (const std::string& line : log_) {
    in_place |= line.find("quantized to int8 in place") != std::string::npos;
    rebuilt |= line.find("rebuilt") != std::string::npos;
  }
  EXPECT_TRUE(in_place);
  EXPECT_FALSE(rebuilt);
}

TEST_F(ScalingTest, SlowVectorsOnASmallBuiltinEmbedderRefitIt) {
  ScalingOptions s = Quiet();
  s.thresholds.vector_latency_ms = 0.000001;
  Open(s);
  Fill(300, false);
  ASSERT_TRUE(db_->FitBuiltinEmbedder(128).ok());
  // A word the corpus gains after the fit: the model does not know it yet.
  NewNode later;
  later.id = "orchid-note";
  later.content = "orchids in the greenhouse";
  ASSERT_TRUE(db_->Create(later).ok());
  VectorSearchOptions orchids;
  orchids.text = "orchids";
  EXPECT_FALSE(db_->SearchVector(orchids).ok());
  VectorSearchOptions vs;
  vs.text = "gardens";
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(db_->SearchVector(vs).ok());
  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> events, db_->RunScalingCheck());
  const ScalingEvent* e = Find(events, OptimizationAction::kOptimizeEmbeddings);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->result, "applied") << e->message;
  json detail = json::parse(e->detail_json);
  // Refitted and re-embedded at the dimension every index is built for; a
  // flat store (300 vectors) has no graph to quantize.
  EXPECT_EQ(detail["dims"], 128);
  EXPECT_EQ(detail["embedded"], 302);  // the notes, their root and the late one
  EXPECT_EQ(detail["quantized"], false);
  ASSERT_OK_AND_ASSIGN(Node stored, db_->Get("orchid-note"));
  EXPECT_EQ(stored.embedding.size(), 128u);
  ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db_->SearchVector(vs));
  EXPECT_FALSE(r.hits.empty());
  ASSERT_OK_AND_ASSIGN(VectorSearchResult found, db_->SearchVector(orchids));
  ASSERT_FALSE(found.hits.empty());
  EXPECT_EQ(found.hits.front().node.id, "orchid-note");
}

TEST_F(ScalingTest, HistoryAndTriggerStateSurviveReopen) {
  ScalingOptions s = Quiet();
  s.thresholds.optimize_indexing_nodes = 10;
  Open(s);
  Fill(20);
  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> events, db_->RunScalingCheck());
  ASSERT_NE(Find(events, OptimizationAction::kOptimizeIndexing), nullptr);
  Open(s);
  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> history, db_->ScalingHistory(100));
  ASSERT_NE(Find(history, OptimizationAction::kOptimizeIndexing), nullptr);
  const ScalingEvent* h = Find(history, OptimizationAction::kOptimizeIndexing);
  EXPECT_GT(h->id, 0);
  EXPECT_GT(h->time_ms, 0);
  EXPECT_FALSE(h->metrics_json.empty());
  EXPECT_GE(h->duration_ms, 0);
  // The trigger remembers it fired: status says so, and no second
  // OptimizeIndexing.
  ASSERT_OK_AND_ASSIGN(ScalingStatus st, db_->GetScalingStatus());
  bool disarmed = false;
  for (const auto& t : st.triggers) disarmed |= t.name == "optimize_indexing" && !t.armed;
  EXPECT_TRUE(disarmed);
  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> again, db_->RunScalingCheck());
  EXPECT_EQ(Find(again, OptimizationAction::kOptimizeIndexing), nullptr);
}

TEST_F(ScalingTest, OnlyOneProcessRunsTheManager) {
  Open(Quiet());
  ASSERT_OK_AND_ASSIGN(ScalingStatus first, db_->GetScalingStatus());
  EXPECT_TRUE(first.manager_running);
  Options o;
  o.scaling = Quiet();
  ASSERT_OK_AND_ASSIGN(auto second, Database::Open(dir_.path(), o));
  ASSERT_OK_AND_ASSIGN(ScalingStatus other, second->GetScalingStatus());
  EXPECT_FALSE(other.manager_running);
  second.reset();
  db_.reset();
  ASSERT_OK_AND_ASSIGN(auto third, Database::Open(dir_.path(), o));
  ASSERT_OK_AND_ASSIGN(ScalingStatus now, third->GetScalingStatus());
  EXPECT_TRUE(now.manager_running);
}

TEST_F(ScalingTest, BackgroundManagerActsOnItsOwn) {
  ScalingOptions s = Quiet();
  s.interval_ms = 20;
  s.thresholds.optimize_indexing_nodes = 10;
  Open(s);
  Fill(20);
  bool seen = false;
  for (int i = 0; i < 500 && !seen; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto history = db_->ScalingHistory(100);
    ASSERT_TRUE(history.ok());
    seen = Find(*history, OptimizationAction::kOptimizeIndexing) != nullptr;
  }
  EXPECT_TRUE(seen);
}

TEST_F(ScalingTest, DryRunChangesNothing) {
  Options o;
  o.query_cache_enabled = false;
  Open(Quiet(), o);
  ASSERT_OK_AND_ASSIGN(ScalingEvent e,
                       db_->ApplyScalingAction(OptimizationAction::kEnableQueryCache, true));
  EXPECT_EQ(e.result, "dry-run");
  EXPECT_FALSE(db_->QueryCacheStatistics().enabled);
  ASSERT_OK_AND_ASSIGN(ScalingEvent real,
                       db_->ApplyScalingAction(OptimizationAction::kEnableQueryCache));
  EXPECT_EQ(real.result, "applied");
  EXPECT_TRUE(db_->QueryCacheStatistics().enabled);
  EXPECT_FALSE(ParseOptimizationAction("MakeItFaster").ok());
}

TEST_F(ScalingTest, CostOptimizerSetsTheResultTtl) {
  ScalingOptions s = Quiet();
  s.budget.compute_costs_sensitive = true;
  Open(s);
  EXPECT_EQ(db_->QueryCacheStatistics().ttl_ms, 3600000);
  ASSERT_OK_AND_ASSIGN(ScalingStatus st, db_->GetScalingStatus());
  EXPECT_EQ(st.config.background_task_interval_ms, 4 * 3600000);
  Open(Quiet());
  EXPECT_EQ(db_->QueryCacheStatistics().ttl_ms, 15 * 60000);
  const ScalingConfig cheap = OptimizeForBudget({true, true, false});
  EXPECT_TRUE(cheap.prefer_local_cache);
  EXPECT_TRUE(cheap.aggressive_archival);
  EXPECT_EQ(cheap.background_task_interval_ms, 30 * 60000);
}

// Cloud costs (prefer_local_cache): no shared cache is recommended; each
// process keeps its own.
TEST_F(ScalingTest, PreferringTheLocalCacheSkipsTheDistributedCache) {
  Open(Quiet());
  ASSERT_OK_AND_ASSIGN(ScalingEvent e,
                       db_->ApplyScalingAction(OptimizationAction::kEnableDistributedCache));
  EXPECT_EQ(e.result, "recommended") << e.message;
  ScalingOptions s = Quiet();
  s.budget.cloud_costs_sensitive = true;
  Open(s);
  ASSERT_OK_AND_ASSIGN(e, db_->ApplyScalingAction(OptimizationAction::kEnableDistributedCache));
  EXPECT_EQ(e.result, "skipped") << e.message;
  EXPECT_NE(e.message.find("local cache"), std::string::npos) << e.message;
  EXPECT_TRUE(db_->QueryCacheStatistics().enabled);
}

TEST_F(ScalingTest, BackgroundCompactionReclaimsSpace) {
  Open(Quiet());
  Fill(2000);
  ASSERT_TRUE(db_->Delete("root0").ok());  // the whole subtree
  ASSERT_OK_AND_ASSIGN(ScalingEvent e,
                       db_->ApplyScalingAction(OptimizationAction::kBackgroundCompaction));
  EXPECT_EQ(e.result, "applied") << e.message;
  json detail = json::parse(e.detail_json);
  EXPECT_TRUE(detail["incremental_vacuum"].get<bool>());
  EXPECT_GT(detail["free_pages_before"].get<int64_t>(), 0);
  EXPECT_EQ(detail["free_pages_after"].get<int64_t>(), 0);
}

TEST_F(ScalingTest, PhaseMigrationValidatesAndUpdatesThePhase) {
  Open(Quiet());
  Fill(50);
  ASSERT_OK_AND_ASSIGN(ScalingEvent e, db_->MigratePhase(ScalingPhase::kMediumTeam));
  EXPECT_EQ(e.result, "applied") << e.message;
  EXPECT_EQ(e.action, OptimizationAction::kMigratePhase);
  json detail = json::parse(e.detail_json);
  EXPECT_EQ(detail["validated"]["nodes"], 51);
  EXPECT_FALSE(std::filesystem::exists(detail["backup"]["path"].get<std::string>()));
  ASSERT_OK_AND_ASSIGN(ScalingStatus st, db_->GetScalingStatus());
  EXPECT_EQ(st.phase, ScalingPhase::kMediumTeam);
}

TEST_F(ScalingTest, FailedMigrationValidationRollsBack) {
  ScalingOptions s = Quiet();
  const std::string db_file = dir_.Sub("nodespace.db");
  // Simulates a migration step that loses a row behind the engine's back.
  s.migration_hook = [db_file](std::string_view step) {
    if (step != "migrate") return;
    sqlite3* raw = nullptr;
    sqlite3_open(db_file.c_str(), &raw);
    sqlite3_busy_timeout(raw, 5000);
    sqlite3_exec(raw, "DELETE FROM nodes WHERE id = 'n0-7'", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
  };
  Open(s);
  Fill(50);
  ASSERT_OK_AND_ASSIGN(DatabaseFingerprint before, db_->Fingerprint());
  ASSERT_OK_AND_ASSIGN(ScalingEvent e, db_->MigratePhase(ScalingPhase::kMediumTeam));
  EXPECT_EQ(e.result, "failed");
  EXPECT_NE(e.message.find("rolled back"), std::string::npos) << e.message;
  json detail = json::parse(e.detail_json);
  EXPECT_TRUE(detail["rolled_back"].get<bool>());
  const std::string kept = detail["backup_kept"].get<std::string>();
  EXPECT_TRUE(std::filesystem::exists(kept + "/nodespace.db"));
  std::filesystem::remove_all(kept);
  ASSERT_OK_AND_ASSIGN(DatabaseFingerprint after, db_->Fingerprint());
  EXPECT_EQ(after, before);
  EXPECT_TRUE(db_->Get("n0-7").ok());
  ASSERT_OK_AND_ASSIGN(ScalingStatus st, db_->GetScalingStatus());
  EXPECT_EQ(st.phase, ScalingPhase::kPersonal);
  // The engine keeps working after the rollback, vectors included.
  VectorSearchOptions vs;
  vs.vector = SomeVector();
  ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db_->SearchVector(vs));
  EXPECT_EQ(r.hits.size(), 10u);
  ASSERT_TRUE(db_->Create(NewNode{.id = "after-rollback", .content = "still writable"}).ok());
}

TEST_F(ScalingTest, MigrationNeverRollsBackAnotherWritersChanges) {
  ScalingOptions s = Quiet();
  const std::string dir = dir_.path();
  // Another process (here: a second handle) writes during the migration.
  s.migration_hook = [dir](std::string_view step) {
    if (step != "migrate") return;
    Options other;
    other.scaling.enabled = false;
    auto db = Database::Open(dir, other);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Create(NewNode{.id = "written-meanwhile", .content = "keep me"}).ok());
  };
  Open(s);
  Fill(20);
  ASSERT_OK_AND_ASSIGN(ScalingEvent e, db_->MigratePhase(ScalingPhase::kMediumTeam));
  EXPECT_EQ(e.result, "failed");
  EXPECT_NE(e.message.find("nothing rolled back"), std::string::npos) << e.message;
  EXPECT_TRUE(db_->Get("written-meanwhile").ok());
  ASSERT_OK_AND_ASSIGN(ScalingStatus st, db_->GetScalingStatus());
  EXPECT_EQ(st.phase, ScalingPhase::kPersonal);
}

TEST_F(ScalingTest, PhaseFollowsSizeAndConcurrency) {
  EXPECT_EQ(PhaseFor(500, 1000, 1), ScalingPhase::kPersonal);
  EXPECT_EQ(PhaseFor(500, 1000, 8), ScalingPhase::kPersonal);
  EXPECT_EQ(PhaseFor(20000, 1000, 1), ScalingPhase::kMediumTeam);
  EXPECT_EQ(PhaseFor(500, 1000, 30), ScalingPhase::kMediumTeam);
  EXPECT_EQ(PhaseFor(200000, 1000, 1), ScalingPhase::kLargeTeam);
  EXPECT_EQ(PhaseFor(500, 2'000'000'000, 1), ScalingPhase::kLargeTeam);
  EXPECT_EQ(PhaseFor(2000000, 1000, 1), ScalingPhase::kEnterprise);
  EXPECT_EQ(PhaseFor(500, 1000, 60), ScalingPhase::kEnterprise);
  EXPECT_EQ(MemoryConfigForNodeCount(9999).query_cache_entries, 1000);
  EXPECT_EQ(MemoryConfigForNodeCount(10000).cache_size_mb, 500);
  EXPECT_EQ(MemoryConfigForNodeCount(999999).background_tasks, 4);
  EXPECT_EQ(MemoryConfigForNodeCount(1000000).vector_cache_mb, 4000);
}

}  // namespace
}  // namespace nodespace
