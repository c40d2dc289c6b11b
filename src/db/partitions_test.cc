// Partitions end to end: the split, identical answers with and without
// partitions, pruning by time, subtree moves across partitions, the write
// path's placement of new nodes, a resumed split, and hot/cold tiers.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "nodespace/database.h"
#include "test_util.h"

namespace nodespace {
namespace {

constexpr int kRoots = 24;
constexpr int kChildren = 12;  // each with 2 grandchildren
constexpr int64_t kDay = 24 * 3600 * 1000LL;
constexpr int64_t kEpoch = 1700000000000LL;
constexpr int kDim = 8;

ScalingOptions Manual() {
  ScalingOptions o;
  o.interval_ms = 0;
  o.expensive_metrics_ms = 0;
  o.apply_memory_tiers = false;
  o.thresholds.avg_query_latency_ms = 1e12;
  o.thresholds.optimize_indexing_nodes = 1LL << 60;
  o.thresholds.partitioning_nodes = 1LL << 60;
  o.thresholds.tiered_storage_bytes = 1LL << 60;
  o.thresholds.vector_latency_ms = 1e12;
  o.thresholds.dedicated_vector_db_vectors = 1LL << 60;
  o.thresholds.memory_mb = 1LL << 40;
  o.thresholds.rearm_ms = 0;
  return o;
}

std::vector<float> RandomVector(std::mt19937& rng) {
  std::normal_distribution<float> g;
  std::vector<float> v(kDim);
  for (float& x : v) x = g(rng);
  return v;
}

// kRoots roots a day apart, each with children and grandchildren created
// over the following hours; every node has a vector and a topic.
void Fill(Database& db) {
  std::mt19937 rng(7);
  const char* topics[] = {"gardens", "kitchens", "rivers", "engines"};
  for (int r = 0; r < kRoots; ++r) {
    WriteBatch batch;
    NewNode root;
    root.id = "r" + std::to_string(r);
    root.content = std::string("Journal ") + std::to_string(r) + " on " + topics[r % 4];
    root.created_at = kEpoch + r * kDay;
    root.embedding = RandomVector(rng);
    batch.Create(root);
    for (int c = 0; c < kChildren; ++c) {
      NewNode child;
      child.id = root.id + "c" + std::to_string(c);
      child.parent_id = root.id;
      child.content = std::string("note ") + std::to_string(c) + " about " + topics[(r + c) % 4];
      child.node_type = c % 3 == 0 ? "task" : "text";
      child.properties = std::string("{\"topic\":\"") + topics[(r + c) % 4] + "\"}";
      child.created_at = *root.created_at + c * 3600 * 1000LL;
      child.embedding = RandomVector(rng);
      batch.Create(child);
      for (int g = 0; g < 2; ++g) {
        NewNode grand;
        grand.id = child.id + "g" + std::to_string(g);
        grand.parent_id = child.id;
        grand.content = "detail " + std::to_string(g) + " of " + topics[(r + c + g) % 4];
        grand.created_at = *child.created_at + 60000;
        grand.embedding = RandomVector(rng);
        batch.Create(grand);
      }
    }
    ASSERT_OK(db.Write(batch).status());
  }
}

constexpr int kTotal = kRoots * (1 + kChildren * 3);

class PartitionsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Database> OpenAt(const std::string& path, PartitionOptions partitions = {},
                                   int64_t memory_budget_mb = 1LL << 40) {
    Options options;
    options.scaling = Manual();
    options.scaling.thresholds.memory_mb = memory_budget_mb;
    options.partitions = partitions;
    options.info_log = [this](std::string_view line) { log_.emplace_back(line); };
    auto db = Database::Open(path, options);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(*db) : nullptr;
  }

  static PartitionOptions Small() {
    PartitionOptions p;
    p.target_nodes = 150;  // about four roots each
    p.split_batch_rows = 50;
    return p;
  }

  // partition_id of every node, and of its root, straight from the file.
  std::vector<std::tuple<std::string, int64_t, int64_t>> Placement(const std::string& path) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2((path + "/nodespace.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
              SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db,
                       "WITH RECURSIVE t(id, rp) AS (SELECT id, partition_id FROM nodes WHERE "
                       "parent_id = '' UNION ALL SELECT n.id, t.rp FROM nodes n JOIN t ON "
                       "n.parent_id = t.id) SELECT t.id, n.partition_id, t.rp FROM t JOIN nodes "
                       "n ON n.id = t.id",
                       -1, &stmt, nullptr);
    std::vector<std::tuple<std::string, int64_t, int64_t>> out;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)),
                       sqlite3_column_int64(stmt, 1), sqlite3_column_int64(stmt, 2));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return out;
  }

  void ExpectConsistent(const std::string& path) {
    auto rows = Placement(path);
    EXPECT_EQ(rows.size(), static_cast<size_t>(kTotal));
    for (const auto& [id, p, root_p] : rows) {
      EXPECT_NE(p, 0) << id;
      EXPECT_EQ(p, root_p) << id << " is not in its root's partition";
    }
  }

  testing::TempDir dir_;
  std::vector<std::string> log_;
};

TEST_F(PartitionsTest, SplitPutsEverySubtreeInOnePartition) {
  auto db = OpenAt(dir_.path(), Small());
  Fill(*db);
  ASSERT_OK_AND_ASSIGN(PartitioningStatus before, db->GetPartitioningStatus());
  EXPECT_EQ(before.state, "none");
  ASSERT_OK_AND_ASSIGN(ScalingEvent e,
                       db->ApplyScalingAction(OptimizationAction::kEnablePartitioning));
  EXPECT_EQ(e.result, "applied") << e.message;
  ASSERT_OK_AND_ASSIGN(PartitioningStatus st, db->GetPartitioningStatus());
  EXPECT_EQ(st.state, "active");
  EXPECT_EQ(st.unassigned_nodes, 0);
  // 24 roots of 37 nodes, 150 per partition: a new one after every 5th root.
  ASSERT_EQ(st.partitions.size(), 5u);
  int64_t sum = 0;
  for (size_t i = 0; i < st.partitions.size(); ++i) {
    sum += st.partitions[i].node_count;
    EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/partitions/p" +
                                        std::to_string(st.partitions[i].id) + "/"))
        << i;
    // Time scheme: each partition's roots are newer than the last one's.
    if (i > 0) EXPECT_GT(st.partitions[i].min_created_ms, st.partitions[i - 1].min_created_ms);
  }
  EXPECT_EQ(sum, kTotal);
  ExpectConsistent(dir_.path());
  // Applying it again changes nothing.
  ASSERT_OK_AND_ASSIGN(ScalingEvent again,
                       db->ApplyScalingAction(OptimizationAction::kEnablePartitioning));
  EXPECT_EQ(again.result, "skipped");
}

TEST_F(PartitionsTest, SizeSchemeBalancesRoots) {
  PartitionOptions p = Small();
  p.scheme = PartitionScheme::kSize;
  auto db = OpenAt(dir_.path(), p);
  Fill(*db);
  ASSERT_OK(db->ApplyScalingAction(OptimizationAction::kEnablePartitioning).status());
  ASSERT_OK_AND_ASSIGN(PartitioningStatus st, db->GetPartitioningStatus());
  // ceil(888 / 150) = 6 partitions of four roots each.
  ASSERT_EQ(st.partitions.size(), 6u);
  for (const PartitionInfo& info : st.partitions) EXPECT_EQ(info.node_count, 4 * 37);
  ExpectConsistent(dir_.path());
}

// The same data with and without partitions answers every kind of query the
// same way (exact vector search: the merge of per-partition answers is the
// global answer).
TEST_F(PartitionsTest, AnswersMatchTheUnpartitionedDatabase) {
  auto plain = OpenAt(dir_.Sub("plain"));
  auto parted = OpenAt(dir_.Sub("parted"), Small());
  Fill(*plain);
  Fill(*parted);
  ASSERT_OK(parted->ApplyScalingAction(OptimizationAction::kEnablePartitioning).status());

  std::mt19937 rng(99);
  auto ids = [](const auto& hits) {
    std::vector<std::string> out;
    for (const auto& h : hits) out.push_back(h.node.id);
    return out;
  };
  for (int i = 0; i < 6; ++i) {
    VectorSearchOptions vs;
    vs.vector = RandomVector(rng);
    vs.k = 15;
    vs.exact = true;
    if (i % 3 == 1) vs.filter.node_types = {"task"};
    if (i % 3 == 2) {
      vs.filter.created_from = kEpoch + 3 * kDay;
      vs.filter.created_before = kEpoch + 9 * kDay;
    }
    ASSERT_OK_AND_ASSIGN(VectorSearchResult a, plain->SearchVector(vs));
    ASSERT_OK_AND_ASSIGN(VectorSearchResult b, parted->SearchVector(vs));
    EXPECT_EQ(ids(a.hits), ids(b.hits)) << "vector query " << i << ": " << b.plan;
    EXPECT_EQ(a.hits.size(), 15u);
    if (i % 3 == 2) {
      // Six days of roots lie in two or three of the five partitions.
      EXPECT_NE(b.plan.find("partitions("), std::string::npos) << b.plan;
      EXPECT_EQ(b.plan.find("of 5): "), b.plan.find("of 5)")) << b.plan;
      EXPECT_EQ(b.plan.find("partitions(5 of 5)"), std::string::npos) << b.plan;
    }
  }
  for (const char* text : {"gardens", "note rivers", "detail OR journal"}) {
    TextSearchOptions ts;
    ts.query = text;
    ts.limit = 20;
    ASSERT_OK_AND_ASSIGN(TextSearchResult a, plain->SearchText(ts));
    ASSERT_OK_AND_ASSIGN(TextSearchResult b, parted->SearchText(ts));
    ASSERT_EQ(a.hits.size(), b.hits.size()) << text;
    for (size_t h = 0; h < a.hits.size(); ++h) {
      EXPECT_EQ(a.hits[h].node.id, b.hits[h].node.id) << text;
      EXPECT_DOUBLE_EQ(a.hits[h].score, b.hits[h].score) << text;  // global BM25 statistics
    }
  }
  std::vector<Query> queries;
  {
    Query hybrid;
    hybrid.text = "gardens";
    hybrid.vector = RandomVector(rng);
    hybrid.limit = 10;
    queries.push_back(hybrid);
    Query filtered = hybrid;
    filtered.filter =
        Filter::And({Filter::Eq("type", std::string("task")),
                     Filter::Compare("created_at", Filter::Op::kGe, int64_t{kEpoch + 10 * kDay})});
    queries.push_back(filtered);
    Query subtree;
    subtree.filter = Filter::Under("r5");
    subtree.facets = {{"properties.topic", 10}, {"type", 5}};
    subtree.limit = 50;
    queries.push_back(subtree);
    Query vector_only;
    vector_only.vector = RandomVector(rng);
    vector_only.limit = 12;
    vector_only.filter = Filter::Compare("created_at", Filter::Op::kLt, int64_t{kEpoch + 4 * kDay});
    queries.push_back(vector_only);
  }
  for (size_t i = 0; i < queries.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(QueryResult a, plain->RunQuery(queries[i]));
    ASSERT_OK_AND_ASSIGN(QueryResult b, parted->RunQuery(queries[i]));
    ASSERT_EQ(a.hits.size(), b.hits.size()) << "query " << i;
    for (size_t h = 0; h < a.hits.size(); ++h) {
      EXPECT_EQ(a.hits[h].node.id, b.hits[h].node.id) << "query " << i << " hit " << h;
    }
    ASSERT_EQ(a.facets.size(), b.facets.size());
    for (size_t f = 0; f < a.facets.size(); ++f) {
      ASSERT_EQ(a.facets[f].values.size(), b.facets[f].values.size());
      for (size_t v = 0; v < a.facets[f].values.size(); ++v) {
        EXPECT_EQ(a.facets[f].values[v].value, b.facets[f].values[v].value);
        EXPECT_EQ(a.facets[f].values[v].count, b.facets[f].values[v].count);
      }
    }
  }
}

TEST_F(PartitionsTest, MovingASubtreeCarriesItAcrossPartitions) {
  auto db = OpenAt(dir_.path(), Small());
  Fill(*db);
  ASSERT_OK(db->ApplyScalingAction(OptimizationAction::kEnablePartitioning).status());
  ASSERT_OK_AND_ASSIGN(Node moved_child, db->Get("r1c4"));
  // Search once so every partition's index is loaded before the move.
  VectorSearchOptions vs;
  vs.vector = moved_child.embedding;
  vs.k = 1;
  vs.exact = true;
  ASSERT_OK(db->SearchVector(vs).status());

  ASSERT_OK(db->Move("r1c4", "r22", Position::Last()).status());
  auto rows = Placement(dir_.path());
  int64_t r22 = 0;
  for (const auto& [id, p, rp] : rows) {
    if (id == "r22") r22 = p;
  }
  for (const auto& [id, p, rp] : rows) {
    if (id.rfind("r1c4", 0) == 0) EXPECT_EQ(p, r22) << id;
    EXPECT_EQ(p, rp) << id;
  }
  ASSERT_OK_AND_ASSIGN(PartitioningStatus st, db->GetPartitioningStatus());
  EXPECT_EQ(st.partitions.front().node_count, 5 * 37 - 3);
  EXPECT_EQ(st.partitions.back().node_count, 4 * 37 + 3);
  // Each moved vector is found once, in its new partition.
  for (const std::string id : {"r1c4", "r1c4g0", "r1c4g1"}) {
    ASSERT_OK_AND_ASSIGN(Node n, db->Get(id));
    VectorSearchOptions q;
    q.vector = n.embedding;
    q.k = 2;
    q.exact = true;
    ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db->SearchVector(q));
    ASSERT_EQ(r.hits.size(), 2u);
    EXPECT_EQ(r.hits[0].node.id, id);
    EXPECT_NE(r.hits[1].node.id, id);
  }
  // A reopened database agrees (indexes caught up from the change log).
  db.reset();
  db = OpenAt(dir_.path(), Small());
  ASSERT_OK_AND_ASSIGN(Node n, db->Get("r1c4g1"));
  VectorSearchOptions q;
  q.vector = n.embedding;
  q.k = 1;
  q.exact = true;
  ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db->SearchVector(q));
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_EQ(r.hits[0].node.id, "r1c4g1");
}

TEST_F(PartitionsTest, NewNodesGoWhereTheSchemeSays) {
  auto db = OpenAt(dir_.path(), Small());
  Fill(*db);
  ASSERT_OK(db->ApplyScalingAction(OptimizationAction::kEnablePartitioning).status());
  ASSERT_OK_AND_ASSIGN(PartitioningStatus st, db->GetPartitioningStatus());
  const int64_t newest = st.partitions.back().id;
  const int64_t oldest = st.partitions.front().id;
  // A child joins its root's partition, however old.
  NewNode child;
  child.id = "late-child";
  child.parent_id = "r0";
  child.content = "added later";
  ASSERT_OK(db->Create(child).status());
  // New roots fill the newest partition (4 roots, 148 nodes) until it
  // holds the target, then a new one opens.
  for (int i = 0; i < 3; ++i) {
    NewNode root;
    root.id = "new-root" + std::to_string(i);
    root.content = "fresh page";
    ASSERT_OK(db->Create(root).status());
  }
  auto rows = Placement(dir_.path());
  std::map<std::string, int64_t> where;
  for (const auto& [id, p, rp] : rows) where[id] = p;
  EXPECT_EQ(where["late-child"], oldest);
  EXPECT_EQ(where["new-root0"], newest);
  EXPECT_EQ(where["new-root1"], newest);
  EXPECT_EQ(where["new-root2"], newest + 1);
}

// A split cut short (here: rows put back as a crash mid-way would leave
// them) finishes at the next scaling check, and answers stay right.
TEST_F(PartitionsTest, UnfinishedSplitResumes) {
  {
    auto db = OpenAt(dir_.path(), Small());
    Fill(*db);
    ASSERT_OK(db->ApplyScalingAction(OptimizationAction::kEnablePartitioning).status());
  }
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open((dir_.path() + "/nodespace.db").c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw,
                           "UPDATE meta SET value = json_set(value, '$.state', 'splitting') WHERE "
                           "key = 'partitioning';"
                           "UPDATE nodes SET partition_id = 0 WHERE rowid % 3 = 0;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
  }
  auto db = OpenAt(dir_.path(), Small());
  ASSERT_OK_AND_ASSIGN(PartitioningStatus mid, db->GetPartitioningStatus());
  EXPECT_EQ(mid.state, "splitting");
  EXPECT_GT(mid.unassigned_nodes, 0);
  // Searches meanwhile use the whole-database index and see every vector.
  ASSERT_OK_AND_ASSIGN(Node n, db->Get("r7c3g1"));
  VectorSearchOptions q;
  q.vector = n.embedding;
  q.k = 1;
  q.exact = true;
  ASSERT_OK_AND_ASSIGN(VectorSearchResult during, db->SearchVector(q));
  ASSERT_EQ(during.hits.size(), 1u);
  EXPECT_EQ(during.hits[0].node.id, "r7c3g1");

  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> events, db->RunScalingCheck());
  bool resumed = false;
  for (const ScalingEvent& e : events) {
    if (e.action == OptimizationAction::kEnablePartitioning && e.result == "applied") {
      resumed = e.detail_json.find("\"resumed\":true") != std::string::npos;
    }
  }
  EXPECT_TRUE(resumed);
  ASSERT_OK_AND_ASSIGN(PartitioningStatus st, db->GetPartitioningStatus());
  EXPECT_EQ(st.state, "active");
  EXPECT_EQ(st.unassigned_nodes, 0);
  ExpectConsistent(dir_.path());
  ASSERT_OK_AND_ASSIGN(VectorSearchResult after, db->SearchVector(q));
  ASSERT_EQ(after.hits.size(), 1u);
  EXPECT_EQ(after.hits[0].node.id, "r7c3g1");
}

// Storage costs (the cost optimizer's aggressive_archival): partitions turn
// cold four times sooner than configured.
TEST_F(PartitionsTest, AggressiveArchivalTurnsPartitionsColdSooner) {
  Options options;
  options.scaling = Manual();
  options.scaling.budget.storage_costs_sensitive = true;
  options.partitions = Small();
  options.partitions.cold_after_ms = 4000;
  auto opened = Database::Open(dir_.path(), options);
  ASSERT_OK(opened.status());
  std::unique_ptr<Database> db = std::move(*opened);
  Fill(*db);
  ASSERT_OK(db->ApplyScalingAction(OptimizationAction::kEnableTieredStorage).status());
  ASSERT_OK_AND_ASSIGN(PartitioningStatus st, db->GetPartitioningStatus());
  EXPECT_EQ(st.cold_after_ms, 1000);
  ASSERT_EQ(st.partitions.size(), 5u);
  // Idle for more than a quarter of the setting: the next pass cools them.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_OK(db->ApplyScalingAction(OptimizationAction::kEnableTieredStorage).status());
  ASSERT_OK_AND_ASSIGN(st, db->GetPartitioningStatus());
  for (const PartitionInfo& info : st.partitions) EXPECT_EQ(info.tier, "cold") << info.id;
}

TEST_F(PartitionsTest, IdlePartitionsTurnColdAndReloadOnDemand) {
  PartitionOptions p = Small();
  p.cold_after_ms = 0;  // everything idle is cold at the next pass
  Options options;
  auto db = OpenAt(dir_.path(), p);
  Fill(*db);
  // The graph index (not flat), so that cold partitions get quantized.
  ASSERT_OK(db->ApplyScalingAction(OptimizationAction::kOptimizeIndexing).status());
  ASSERT_OK_AND_ASSIGN(ScalingEvent e,
                       db->ApplyScalingAction(OptimizationAction::kEnableTieredStorage));
  EXPECT_EQ(e.result, "applied") << e.message;
  ASSERT_OK_AND_ASSIGN(PartitioningStatus st, db->GetPartitioningStatus());
  EXPECT_EQ(st.state, "active");  // tiers split first
  EXPECT_TRUE(st.tiering);
  ASSERT_EQ(st.partitions.size(), 5u);
  for (const PartitionInfo& info : st.partitions) {
    EXPECT_EQ(info.tier, "cold") << info.id;
    EXPECT_FALSE(info.index_loaded) << info.id;
  }
  // The first search that needs a cold partition loads it; its graph walks
  // 8-bit codes now, and the answer is still right.
  ASSERT_OK_AND_ASSIGN(Node n, db->Get("r2c5"));
  VectorSearchOptions q;
  q.vector = n.embedding;
  q.k = 1;
  q.filter.created_from = kEpoch + 2 * kDay;
  q.filter.created_before = kEpoch + 3 * kDay;
  ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db->SearchVector(q));
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_EQ(r.hits[0].node.id, "r2c5");
  ASSERT_OK_AND_ASSIGN(st, db->GetPartitioningStatus());
  int loaded = 0;
  for (const PartitionInfo& info : st.partitions) {
    if (!info.index_loaded) continue;
    ++loaded;
    EXPECT_TRUE(info.index_int8);
    EXPECT_EQ(info.index_vectors, info.node_count);
  }
  EXPECT_EQ(loaded, 1);
  // The next pass sees it used: hot again (and, idle at once, cold at the
  // pass after).
  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> events, db->RunScalingCheck());
  bool hot = false;
  for (const ScalingEvent& ev : events) {
    hot |= ev.message.find("turned hot") != std::string::npos;
  }
  EXPECT_TRUE(hot);
  ASSERT_OK_AND_ASSIGN(st, db->GetPartitioningStatus());
  EXPECT_EQ(std::count_if(st.partitions.begin(), st.partitions.end(),
                          [](const PartitionInfo& i) { return i.tier == "hot"; }),
            1);
}

// Over the memory budget (here: any memory at all), OptimizeMemoryUsage
// unloads partitions' indexes, least recently used first; searches load
// them again.
TEST_F(PartitionsTest, MemoryPressureUnloadsPartitions) {
  auto db = OpenAt(dir_.path(), Small(), /*memory_budget_mb=*/0);
  Fill(*db);
  ASSERT_OK(db->ApplyScalingAction(OptimizationAction::kEnablePartitioning).status());
  std::mt19937 rng(3);
  VectorSearchOptions q;
  q.vector = RandomVector(rng);
  q.k = 5;
  ASSERT_OK(db->SearchVector(q).status());  // every partition loaded
  ASSERT_OK_AND_ASSIGN(PartitioningStatus st, db->GetPartitioningStatus());
  for (const PartitionInfo& p : st.partitions) EXPECT_TRUE(p.index_loaded) << p.id;
  ASSERT_OK_AND_ASSIGN(ScalingEvent e,
                       db->ApplyScalingAction(OptimizationAction::kOptimizeMemoryUsage));
  auto unloaded =
      nlohmann::json::parse(e.detail_json)["partitions_unloaded"].get<std::vector<int>>();
  std::sort(unloaded.begin(), unloaded.end());
  EXPECT_EQ(unloaded, (std::vector<int>{1, 2, 3, 4, 5})) << e.detail_json;
  ASSERT_OK_AND_ASSIGN(st, db->GetPartitioningStatus());
  for (const PartitionInfo& p : st.partitions) EXPECT_FALSE(p.index_loaded) << p.id;
  ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db->SearchVector(q));
  EXPECT_EQ(r.hits.size(), 5u);
}

TEST_F(PartitionsTest, CompactPartitionChecksItsArgument) {
  auto db = OpenAt(dir_.path(), Small());
  Fill(*db);
  EXPECT_EQ(db->CompactPartition(1).status().code(), StatusCode::kNotSupported);
  ASSERT_OK(db->ApplyScalingAction(OptimizationAction::kOptimizeIndexing).status());
  ASSERT_OK(db->ApplyScalingAction(OptimizationAction::kEnablePartitioning).status());
  EXPECT_EQ(db->CompactPartition(99).status().code(), StatusCode::kNotFound);
  // Deleted nodes leave tombstones in their partition's graph; compacting
  // that partition alone reclaims them.
  ASSERT_OK(db->Delete("r0c1").status());
  ASSERT_OK(db->Delete("r0c2").status());
  ASSERT_OK_AND_ASSIGN(Node n, db->Get("r0c3"));
  VectorSearchOptions q;
  q.vector = n.embedding;
  q.k = 1;
  ASSERT_OK(db->SearchVector(q).status());
  ASSERT_OK_AND_ASSIGN(PartitioningStatus st, db->GetPartitioningStatus());
  ASSERT_OK_AND_ASSIGN(int64_t reclaimed, db->CompactPartition(st.partitions.front().id));
  EXPECT_EQ(reclaimed, 6);
}

}  // namespace
}  // namespace nodespace
