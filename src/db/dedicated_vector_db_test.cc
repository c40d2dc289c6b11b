// DedicatedVectorDB through the engine: the action starts the vector
// service, searches go to it, a killed service is answered for in-process
// and restarted, and the setting survives a reopen.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "nodespace/database.h"
#include "test_util.h"

namespace nodespace {
namespace {

std::vector<float> VectorFor(int i) {
  std::mt19937 rng(static_cast<uint32_t>(i));
  std::normal_distribution<float> g;
  std::vector<float> v(8);
  for (float& x : v) x = g(rng);
  return v;
}

class DedicatedVectorDbTest : public ::testing::Test {
 protected:
  // Checks only when asked, this build's service, a quiet log.
  static Options ServiceOptions(bool memory_tiers = false) {
    Options o;
    o.scaling.interval_ms = 0;
    o.scaling.apply_memory_tiers = memory_tiers;
    o.vector_service_binary = NODESPACE_BIN;
    o.info_log = [](std::string_view) {};
    return o;
  }
  static void ExpectApplied(Database& db, OptimizationAction action) {
    Result<ScalingEvent> e = db.ApplyScalingAction(action);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    ASSERT_EQ(e->result, "applied") << e->message;
  }
  std::unique_ptr<Database> Open(const Options& o = ServiceOptions()) {
    auto db = Database::Open(dir_.path(), o);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return std::move(*db);
  }
  void Fill(Database& db, int from, int to) {
    WriteBatch batch;
    for (int i = from; i < to; ++i) {
      NewNode n;
      n.id = "n" + std::to_string(i);
      n.content = "node " + std::to_string(i);
      n.embedding = VectorFor(i);
      batch.Create(n);
    }
    ASSERT_OK(db.Write(batch).status());
  }
  // The nearest node to node i's own vector is node i.
  void ExpectFinds(Database& db, int i, const std::string& plan_prefix) {
    VectorSearchOptions q;
    q.vector = VectorFor(i);
    q.k = 3;
    q.exact = true;
    ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db.SearchVector(q));
    ASSERT_FALSE(r.hits.empty());
    EXPECT_EQ(r.hits[0].node.id, "n" + std::to_string(i));
    EXPECT_EQ(r.plan.rfind(plan_prefix, 0), 0u) << r.plan;
  }
  testing::TempDir dir_;
};

TEST_F(DedicatedVectorDbTest, TheServiceRunsWithTheEnginesVectorSettings) {
  std::unique_ptr<Database> db;
  {
    Options o = ServiceOptions();
    o.exact_search_max_vectors = 1234;
    o.hnsw_m = 12;
    o.hnsw_ef_construction = 99;
    o.hnsw_ef_search = 77;
    o.vector_index_save_every = 4321;
    ASSERT_OK_AND_ASSIGN(db, Database::Open(dir_.path(), o));
  }
  Fill(*db, 0, 50);
  ASSERT_OK_AND_ASSIGN(ScalingEvent e,
                       db->ApplyScalingAction(OptimizationAction::kDedicatedVectorDB));
  ASSERT_EQ(e.result, "applied") << e.message;
  ASSERT_OK_AND_ASSIGN(PartitioningStatus st, db->GetPartitioningStatus());
  ASSERT_GT(st.vector_service.port, 0);
  httplib::Client c("127.0.0.1", st.vector_service.port);
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  const nlohmann::json settings = nlohmann::json::parse(health->body)["settings"];
  EXPECT_EQ(settings["exact_search_max_vectors"], 1234);
  EXPECT_EQ(settings["hnsw_m"], 12);
  EXPECT_EQ(settings["hnsw_ef_construction"], 99);
  EXPECT_EQ(settings["hnsw_ef_search"], 77);
  EXPECT_EQ(settings["vector_index_save_every"], 4321);
  EXPECT_EQ(settings["memory_budget_mb"], 0);  // no memory tier in this process
}

// With memory tiers on, the tier's vector cache is the service's budget
// (50 MB below 10K nodes).
TEST_F(DedicatedVectorDbTest, TheServiceGetsTheTiersVectorCacheAsItsMemoryBudget) {
  std::unique_ptr<Database> db = Open(ServiceOptions(/*memory_tiers=*/true));
  Fill(*db, 0, 50);
  ASSERT_OK_AND_ASSIGN(ScalingEvent e,
                       db->ApplyScalingAction(OptimizationAction::kDedicatedVectorDB));
  ASSERT_EQ(e.result, "applied") << e.message;
  ASSERT_OK_AND_ASSIGN(PartitioningStatus st, db->GetPartitioningStatus());
  httplib::Client c("127.0.0.1", st.vector_service.port);
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(nlohmann::json::parse(health->body)["settings"]["memory_budget_mb"],
            MemoryConfigForNodeCount(50).vector_cache_mb);
}

// A new tier reaches the running service as its new budget: same process,
// no restart (which would drop a catch-up in flight).
TEST_F(DedicatedVectorDbTest, ANewTierGivesTheRunningServiceItsBudget) {
  std::unique_ptr<Database> db = Open(ServiceOptions(/*memory_tiers=*/true));
  Fill(*db, 0, 50);
  ASSERT_OK(db->RunScalingCheck().status());  // the tier below 10K nodes
  ExpectApplied(*db, OptimizationAction::kDedicatedVectorDB);
  ASSERT_OK_AND_ASSIGN(PartitioningStatus before, db->GetPartitioningStatus());
  Fill(*db, 50, 10050);
  ASSERT_OK_AND_ASSIGN(ScalingEvent tier,
                       db->ApplyScalingAction(OptimizationAction::kApplyMemoryTier));
  ASSERT_EQ(tier.result, "applied") << tier.message;
  const int64_t budget_mb = MemoryConfigForNodeCount(10050).vector_cache_mb;  // 200 MB
  EXPECT_EQ(nlohmann::json::parse(tier.detail_json)["vector_service_memory_budget_mb"], budget_mb)
      << tier.detail_json;
  ASSERT_OK_AND_ASSIGN(PartitioningStatus after, db->GetPartitioningStatus());
  EXPECT_EQ(after.vector_service.pid, before.vector_service.pid);
  EXPECT_EQ(after.vector_service.restarts, before.vector_service.restarts);
  httplib::Client c("127.0.0.1", after.vector_service.port);
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(nlohmann::json::parse(health->body)["settings"]["memory_budget_mb"], budget_mb);
  ExpectFinds(*db, 10049, "service: ");
}

// SQLite's heap limit leaves a running service at least its budget, the
// tier's vector cache (50 MB below 10K nodes), however small the service is
// when measured: it grows back to it (a restart, a catch-up) while SQLite
// fills whatever limit it gets within seconds.
TEST_F(DedicatedVectorDbTest, SqlitesShareLeavesARunningServiceItsWholeBudget) {
  std::vector<std::string> log;
  std::mutex log_mu;
  Options o = ServiceOptions(/*memory_tiers=*/true);
  o.info_log = [&](std::string_view line) {
    std::lock_guard lock(log_mu);
    log.emplace_back(line);
  };
  std::unique_ptr<Database> db = Open(o);
  Fill(*db, 0, 50);
  ASSERT_OK(db->RunScalingCheck().status());  // the tier below 10K nodes
  ExpectApplied(*db, OptimizationAction::kDedicatedVectorDB);
  ASSERT_OK(db->RunScalingCheck().status());
  ASSERT_OK_AND_ASSIGN(ScalingStatus st, db->GetScalingStatus());
  const MemoryConfig tier = MemoryConfigForNodeCount(50);
  // The second check moved the limit down by the service's budget, unless
  // a sanitizer's shadow memory makes the 50 nodes' service larger than its
  // budget, or this process alone had already taken SQLite to its floor.
  if (st.vector_service_resident_mb >= tier.vector_cache_mb) {
    GTEST_SKIP() << "the service (" << st.vector_service_resident_mb << " MB) is over its budget";
  }
  ASSERT_OK_AND_ASSIGN(ScalingMetrics m, db->CollectScalingMetrics());
  if (tier.cache_size_mb - m.memory_usage_mb <= tier.cache_size_mb / 8) {
    GTEST_SKIP() << "this process alone (" << m.memory_usage_mb << " MB) leaves SQLite its floor";
  }
  std::lock_guard lock(log_mu);
  const auto fitted = std::find_if(log.rbegin(), log.rend(), [](const std::string& line) {
    return line.find("memory tier: SQLite heap limit") != std::string::npos;
  });
  ASSERT_NE(fitted, log.rend());
  EXPECT_NE(fitted->find(", " + std::to_string(tier.vector_cache_mb) + " MB kept for it"),
            std::string::npos)
      << *fitted;
}

// A vector service that outgrows the tier's vector cache (50 MB below 10K
// nodes) has the tier applied again: its graph walks on int8 codes from then
// on (floats only re-score, read from the file), once per tier.
class ServiceOverTheVectorCacheTest : public DedicatedVectorDbTest,
                                      public ::testing::WithParamInterface<bool> {};

TEST_P(ServiceOverTheVectorCacheTest, AServiceOverTheVectorCacheWalksOnInt8Codes) {
  const bool partitioned = GetParam();
  constexpr int kNodes = 8000;
  constexpr size_t kDim = 2048;  // 65 MB of floats
  auto vector_for = [](int i) {
    std::mt19937 rng(static_cast<uint32_t>(i));
    std::normal_distribution<float> g;
    std::vector<float> v(kDim);
    for (float& x : v) x = g(rng);
    return v;
  };
  std::vector<std::string> log;
  std::mutex log_mu;
  Options o = ServiceOptions(/*memory_tiers=*/true);
  o.hnsw_m = 8;
  o.hnsw_ef_construction = 32;
  o.exact_search_max_vectors = 100;  // searches walk the graph
  o.info_log = [&](std::string_view line) {
    std::lock_guard lock(log_mu);
    log.emplace_back(line);
  };
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Database> db, Database::Open(dir_.path(), o));
  for (int from = 0; from < kNodes; from += 1000) {
    WriteBatch batch;
    for (int i = from; i < from + 1000; ++i) {
      NewNode n;
      n.id = "n" + std::to_string(i);
      n.content = "node " + std::to_string(i);
      n.embedding = vector_for(i);
      batch.Create(n);
    }
    ASSERT_OK(db->Write(batch).status());
  }
  ASSERT_OK(db->RunScalingCheck().status());  // the tier below 10K nodes
  ASSERT_OK_AND_ASSIGN(ScalingEvent graph,
                       db->ApplyScalingAction(OptimizationAction::kOptimizeIndexing));
  ASSERT_EQ(graph.result, "applied") << graph.message;
  if (partitioned) {
    // Each partition has a graph of its own, which the engine has not loaded
    // once the service holds them.
    ASSERT_OK_AND_ASSIGN(ScalingEvent split,
                         db->ApplyScalingAction(OptimizationAction::kEnablePartitioning));
    ASSERT_EQ(split.result, "applied") << split.message;
  }
  ASSERT_OK_AND_ASSIGN(ScalingEvent e,
                       db->ApplyScalingAction(OptimizationAction::kDedicatedVectorDB));
  ASSERT_EQ(e.result, "applied") << e.message;
  auto search = [&](int i) {
    VectorSearchOptions q;
    q.vector = vector_for(i);
    q.k = 3;
    Result<VectorSearchResult> r = db->SearchVector(q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r->hits.empty()) return std::string();
    EXPECT_EQ(r->plan.rfind("service: ", 0), 0u) << r->plan;
    return r->hits[0].node.id;
  };
  EXPECT_EQ(search(7), "n7");
  int64_t service_mb = 0;
  for (int waited_ms = 0; waited_ms < 20000 && service_mb <= 50; waited_ms += 100) {
    ASSERT_OK_AND_ASSIGN(ScalingStatus st, db->GetScalingStatus());
    service_mb = st.vector_service_resident_mb;
    if (service_mb <= 50) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GT(service_mb, 50);

  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> events, db->RunScalingCheck());
  const ScalingEvent* applied = nullptr;
  for (const ScalingEvent& ev : events) {
    if (ev.action == OptimizationAction::kApplyMemoryTier) applied = &ev;
  }
  ASSERT_NE(applied, nullptr);
  EXPECT_EQ(applied->result, "applied") << applied->message;
  EXPECT_NE(applied->message.find("over the vector cache of 50 MB"), std::string::npos)
      << applied->message;
  const nlohmann::json detail = nlohmann::json::parse(applied->detail_json);
  EXPECT_GE(detail["vector_indexes_quantized"].get<int>(), 1) << detail.dump();
  EXPECT_EQ(detail["vector_service_restarted"], true) << detail.dump();
  // 8,000 x (8,192 bytes of floats + 17 link words + 16).
  EXPECT_EQ(detail["float_graph_mb"], 63) << detail.dump();
  // The restarted service opens the int8 graph and answers from it.
  for (int i : {7, 4321, kNodes - 1}) EXPECT_EQ(search(i), "n" + std::to_string(i));
  // Once per tier.
  ASSERT_OK_AND_ASSIGN(events, db->RunScalingCheck());
  for (const ScalingEvent& ev : events) EXPECT_NE(ev.action, OptimizationAction::kApplyMemoryTier);
  // Applied again by hand, the tier finds the database's graphs on codes
  // already: no second pass, no restart.
  ASSERT_OK_AND_ASSIGN(ScalingEvent again,
                       db->ApplyScalingAction(OptimizationAction::kApplyMemoryTier));
  ASSERT_EQ(again.result, "applied") << again.message;
  const nlohmann::json again_detail = nlohmann::json::parse(again.detail_json);
  EXPECT_FALSE(again_detail.contains("vector_service_restarted")) << again_detail.dump();
  EXPECT_EQ(search(4321), "n4321");
}

TEST_F(DedicatedVectorDbTest, AFloatGraphNearTheVectorCacheWalksOnCodesBeforeTheServiceGrows) {
  // 5,000 x 2,048-d: a float graph of 39 MB, past three quarters of the
  // 50 MB vector cache below 10K nodes, whatever the service holds yet.
  constexpr int kNodes = 5000;
  constexpr size_t kDim = 2048;
  auto vector_for = [](int i) {
    std::mt19937 rng(static_cast<uint32_t>(i) + 17);
    std::normal_distribution<float> g;
    std::vector<float> v(kDim);
    for (float& x : v) x = g(rng);
    return v;
  };
  Options o = ServiceOptions(/*memory_tiers=*/true);
  o.hnsw_m = 8;
  o.hnsw_ef_construction = 32;
  o.exact_search_max_vectors = 100;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Database> db, Database::Open(dir_.path(), o));
  auto fill = [&](int from, int to) {
    WriteBatch batch;
    for (int i = from; i < to; ++i) {
      NewNode n;
      n.id = "n" + std::to_string(i);
      n.embedding = vector_for(i);
      batch.Create(n);
    }
    ASSERT_OK(db->Write(batch).status());
  };
  fill(0, 1000);
  // Tier applied while no service runs: nothing to judge yet. The vector
  // count measured here (1,000) stays the metric for ten minutes.
  ASSERT_OK_AND_ASSIGN(std::vector<ScalingEvent> events, db->RunScalingCheck());
  for (const ScalingEvent& ev : events) {
    if (ev.action != OptimizationAction::kApplyMemoryTier) continue;
    EXPECT_FALSE(nlohmann::json::parse(ev.detail_json).contains("float_graph_mb"));
  }
  ExpectApplied(*db, OptimizationAction::kOptimizeIndexing);
  ExpectApplied(*db, OptimizationAction::kDedicatedVectorDB);
  // An import brings the rest: the check judges the graph by the nodes added
  // since the count, not by the count alone (8 MB of floats).
  fill(1000, kNodes);

  ASSERT_OK_AND_ASSIGN(events, db->RunScalingCheck());
  const ScalingEvent* applied = nullptr;
  for (const ScalingEvent& ev : events) {
    if (ev.action == OptimizationAction::kApplyMemoryTier) applied = &ev;
  }
  ASSERT_NE(applied, nullptr);
  EXPECT_EQ(applied->result, "applied") << applied->message;
  const nlohmann::json detail = nlohmann::json::parse(applied->detail_json);
  EXPECT_EQ(detail["float_graph_mb"], 39) << detail.dump();
  EXPECT_EQ(detail["vector_indexes_quantized"], 1) << detail.dump();
  EXPECT_EQ(detail["vector_service_restarted"], true) << detail.dump();
  if (detail["vector_service_resident_mb"].get<int64_t>() <= 50) {
    EXPECT_NE(applied->message.find("float vector graphs of 39 MB past three quarters of the "
                                    "vector cache of 50 MB"),
              std::string::npos)
        << applied->message;
  }
  VectorSearchOptions q;
  q.vector = vector_for(2345);
  q.k = 1;
  ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db->SearchVector(q));
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_EQ(r.hits[0].node.id, "n2345");
  EXPECT_EQ(r.plan.rfind("service: ", 0), 0u) << r.plan;
}

INSTANTIATE_TEST_SUITE_P(WholeAndPartitioned, ServiceOverTheVectorCacheTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Partitioned" : "Whole";
                         });

TEST_F(DedicatedVectorDbTest, SearchesMoveToTheServiceAndSurviveItsDeath) {
  auto db = Open();
  Fill(*db, 0, 300);
  ExpectFinds(*db, 5, "exact");
  ASSERT_OK_AND_ASSIGN(ScalingEvent e,
                       db->ApplyScalingAction(OptimizationAction::kDedicatedVectorDB));
  ASSERT_EQ(e.result, "applied") << e.message;
  ExpectFinds(*db, 17, "service: ");
  // A write is visible to the next search through the service.
  Fill(*db, 300, 310);
  ExpectFinds(*db, 305, "service: ");
  ASSERT_OK_AND_ASSIGN(PartitioningStatus st, db->GetPartitioningStatus());
  ASSERT_TRUE(st.vector_service.running);
  EXPECT_TRUE(st.vector_service.enabled);
  EXPECT_GE(st.vector_service.remote_searches, 2);

  // Killed: searches are answered in-process meanwhile, then by the
  // restarted service.
  ASSERT_EQ(kill(static_cast<pid_t>(st.vector_service.pid), SIGKILL), 0);
  for (int i = 0; i < 20; ++i) {
    VectorSearchOptions q;
    q.vector = VectorFor(100 + i);
    q.k = 1;
    q.exact = true;
    ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db->SearchVector(q));
    ASSERT_EQ(r.hits.size(), 1u);
    EXPECT_EQ(r.hits[0].node.id, "n" + std::to_string(100 + i)) << r.plan;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    ASSERT_OK_AND_ASSIGN(st, db->GetPartitioningStatus());
    if (st.vector_service.restarts >= 1 && st.vector_service.healthy) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(st.vector_service.restarts, 1);
  ASSERT_TRUE(st.vector_service.healthy) << st.vector_service.last_error;
  ExpectFinds(*db, 309, "service: ");

  // The setting is remembered; a process without the manager searches
  // in-process, one with it starts the service again.
  db.reset();
  db = Open();
  ASSERT_OK_AND_ASSIGN(st, db->GetPartitioningStatus());
  EXPECT_TRUE(st.vector_service.enabled);
  EXPECT_FALSE(st.vector_service.running);
  ExpectFinds(*db, 42, "exact");
}

TEST_F(DedicatedVectorDbTest, MissingProgramIsAClearFailure) {
  Options o;
  o.scaling.interval_ms = 0;
  o.vector_service_binary = dir_.Sub("no-such-program");
  o.info_log = [](std::string_view) {};
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(dir_.path(), o));
  Fill(*db, 0, 10);
  ASSERT_OK_AND_ASSIGN(ScalingEvent e,
                       db->ApplyScalingAction(OptimizationAction::kDedicatedVectorDB));
  EXPECT_EQ(e.result, "failed");
  EXPECT_NE(e.message.find("no-such-program"), std::string::npos) << e.message;
  ExpectFinds(*db, 3, "exact");
}

}  // namespace
}  // namespace nodespace
