// DedicatedVectorDB through the engine: the action starts the vector
// service, searches go to it, a killed service is answered for in-process
// and restarted, and the setting survives a reopen.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <chrono>
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
  std::unique_ptr<Database> Open() {
    Options o;
    o.scaling.interval_ms = 0;
    o.scaling.apply_memory_tiers = false;
    o.vector_service_binary = NODESPACE_BIN;
    o.info_log = [](std::string_view) {};
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
    Options o;
    o.scaling.interval_ms = 0;
    o.scaling.apply_memory_tiers = false;
    o.vector_service_binary = NODESPACE_BIN;
    o.info_log = [](std::string_view) {};
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
}

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
