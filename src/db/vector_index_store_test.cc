// VectorIndexStore's two index kinds (flat, hnsw) and its run-time maintenance:
// switching kinds, tuning, reclaiming tombstones, releasing memory and
// forgetting state. Databases are written through the public API; the store
// is then driven directly over a connection, as the scaling manager will.
#include "db/vector_index_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "nodespace/database.h"
#include "storage/meta.h"
#include "test_util.h"

namespace nodespace {
namespace {

std::vector<float> RandomVector(std::mt19937& rng, int dims) {
  std::normal_distribution<float> g;
  std::vector<float> v(dims);
  for (float& x : v) x = g(rng);
  return v;
}

// `v` moved a little: its nearest stored vector is still `v`'s node.
std::vector<float> Nudge(const std::vector<float>& v, std::mt19937& rng) {
  std::normal_distribution<float> g(0, 0.01f);
  std::vector<float> out = v;
  for (float& x : out) x += g(rng);
  return out;
}

class VectorStoreTest : public ::testing::Test {
 protected:
  VectorStoreTest() {
    options_.info_log = [this](std::string_view line) { log_.emplace_back(line); };
    // Searches of more than 100 vectors walk the graph (hnsw kind).
    options_.exact_search_max_vectors = 100;
    // No background manager: the tests decide when the index changes.
    options_.scaling.interval_ms = 0;
  }

  std::unique_ptr<Database> OpenDatabase() {
    auto db = Database::Open(dir_.path(), options_);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(*db) : nullptr;
  }

  // n nodes "v0".."v{n-1}" with random vectors, written in one batch.
  void CreateDatabase(int n, int dims) {
    std::unique_ptr<Database> db = OpenDatabase();
    ASSERT_NE(db, nullptr);
    std::mt19937 rng(7);
    WriteBatch batch;
    for (int i = 0; i < n; ++i) {
      NewNode node;
      node.id = "v" + std::to_string(i);
      node.content = "node " + std::to_string(i);
      node.embedding = RandomVector(rng, dims);
      vectors_.push_back(node.embedding);
      batch.Create(std::move(node));
    }
    auto r = db->Write(batch);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  // `count` nodes "<prefix>0".. with random 8-d vectors, one change each;
  // returns their vectors.
  static std::vector<std::vector<float>> CreateEach(Database& db, const std::string& prefix,
                                                    int count, std::mt19937& rng) {
    std::vector<std::vector<float>> vectors;
    for (int i = 0; i < count; ++i) {
      NewNode n;
      n.id = prefix + std::to_string(i);
      n.content = prefix;
      n.embedding = RandomVector(rng, 8);
      vectors.push_back(n.embedding);
      EXPECT_TRUE(db.Create(n).ok());
    }
    return vectors;
  }

  // A writer connection and a store over the database, synced.
  void OpenStore() {
    store_.reset();
    conn_.reset();
    auto conn = storage::Connection::Open(dir_.Sub("nodespace.db"), false, false);
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::move(*conn);
    store_ = std::make_unique<VectorIndexStore>(dir_.path(), options_);
    ASSERT_OK(store_->Sync(*conn_));
  }

  void CloseStore() {
    store_.reset();
    conn_.reset();
  }

  // Nearest `k` through the store; ids in order.
  std::vector<std::string> Nearest(const std::vector<float>& q, size_t k = 10, bool exact = false,
                                   std::string* plan = nullptr,
                                   const std::vector<int64_t>* allowed = nullptr) {
    VectorIndexStore::Query query;
    query.vector = q;
    query.k = k;
    query.exact = exact;
    query.allowed = allowed;
    auto answer = store_->Search(query);
    EXPECT_TRUE(answer.ok()) << answer.status().ToString();
    std::vector<std::string> ids;
    if (!answer.ok()) return ids;
    if (plan != nullptr) *plan = answer->plan;
    for (const vector::Neighbor& n : answer->result.neighbors) ids.push_back(IdOf(n.label));
    return ids;
  }

  std::string IdOf(int64_t rowid) {
    auto stmt = conn_->Prepare("SELECT id FROM nodes WHERE rowid = ?1");
    EXPECT_TRUE(stmt.ok());
    storage::ScopedStatement s(**stmt);
    s->Bind(1, rowid);
    auto row = s->Step();
    return row.ok() && *row ? s->ColumnString(0) : "<row " + std::to_string(rowid) + ">";
  }

  std::optional<std::string> Meta(const std::string& key) {
    auto value = storage::ReadMeta(*conn_, key);
    EXPECT_TRUE(value.ok()) << value.status().ToString();
    return value.ok() ? *value : std::nullopt;
  }

  bool IndexFileExists() const { return std::filesystem::exists(dir_.Sub("vectors.idx")); }

  bool Logged(const std::string& words) const {
    return std::any_of(log_.begin(), log_.end(), [&](const std::string& line) {
      return line.find(words) != std::string::npos;
    });
  }
  // What the vector index reported (other parts of the engine may log too).
  std::string VectorLog() const {
    std::string out;
    for (const std::string& line : log_) {
      if (line.find("vector") != std::string::npos) out += line + "\n";
    }
    return out;
  }

  testing::TempDir dir_;
  Options options_;
  std::vector<std::string> log_;
  std::vector<std::vector<float>> vectors_;
  std::unique_ptr<storage::Connection> conn_;
  std::unique_ptr<VectorIndexStore> store_;
};

TEST_F(VectorStoreTest, NewDatabaseWithScalingIsSearchedExactlyWithoutAFile) {
  CreateDatabase(300, 8);
  {
    // Above exact_search_max_vectors, yet exact: the index is flat.
    std::unique_ptr<Database> db = OpenDatabase();
    VectorSearchOptions o;
    o.vector = vectors_[42];
    ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db->SearchVector(o));
    EXPECT_EQ(r.plan, "exact");
    EXPECT_EQ(r.index_size, 300);
    ASSERT_FALSE(r.hits.empty());
    EXPECT_EQ(r.hits.front().node.id, "v42");
  }
  EXPECT_FALSE(IndexFileExists());
  EXPECT_EQ(VectorLog(), "");  // loading a flat index is no repair

  OpenStore();
  const VectorIndexInfo info = store_->Info();
  EXPECT_EQ(info.kind, VectorIndexKind::kFlat);
  EXPECT_EQ(info.size, 300);
  EXPECT_EQ(info.file_bytes, 0);
  EXPECT_FALSE(info.mapped);
  EXPECT_GT(info.memory_bytes, 300 * 8 * 4);
  EXPECT_EQ(Meta("vector_index"), std::nullopt);  // decided by the rule, not stored
  std::string plan;
  EXPECT_EQ(Nearest(vectors_[7], 1, false, &plan), std::vector<std::string>{"v7"});
  EXPECT_EQ(plan, "exact");
  // Filtered: rows 1..50 (v0..v49).
  std::vector<int64_t> allowed;
  for (int64_t row = 1; row <= 50; ++row) allowed.push_back(row);
  std::vector<std::string> ids = Nearest(vectors_[200], 5, false, &plan, &allowed);
  EXPECT_EQ(plan, "exact_filtered");
  ASSERT_EQ(ids.size(), 5u);
  for (const std::string& id : ids) EXPECT_LT(std::stoi(id.substr(1)), 50) << id;
  EXPECT_EQ(Nearest(vectors_[20], 1, false, &plan, &allowed), std::vector<std::string>{"v20"});
  EXPECT_OK(store_->ReleaseMemory());  // nothing to give back
  ASSERT_OK_AND_ASSIGN(int64_t reclaimed, store_->ReclaimTombstones(0));
  EXPECT_EQ(reclaimed, 0);
  EXPECT_EQ(store_->Info().kind, VectorIndexKind::kFlat);
  EXPECT_EQ(VectorIndexStore::VectorIndexKindName(VectorIndexKind::kFlat), "flat");
  EXPECT_EQ(VectorIndexStore::VectorIndexKindName(VectorIndexKind::kHnsw), "hnsw");
}

TEST_F(VectorStoreTest, WithoutScalingOrWithAGraphFileTheKindIsHnsw) {
  options_.scaling.enabled = false;
  CreateDatabase(200, 8);
  OpenStore();
  EXPECT_EQ(store_->Info().kind, VectorIndexKind::kHnsw);
  EXPECT_TRUE(IndexFileExists());  // built and saved on the first Sync
  std::mt19937 rng(1);
  std::string plan;
  EXPECT_EQ(Nearest(Nudge(vectors_[3], rng), 1, false, &plan).front(), "v3");
  EXPECT_EQ(plan, "graph");
  CloseStore();
  // Scaling on, no meta key, but a graph file: the database keeps its graph.
  options_.scaling.enabled = true;
  log_.clear();
  OpenStore();
  EXPECT_EQ(store_->Info().kind, VectorIndexKind::kHnsw);
  EXPECT_TRUE(store_->Info().mapped);  // opened from the file, not rebuilt
  EXPECT_EQ(VectorLog(), "");
  EXPECT_EQ(Meta("vector_index"), std::nullopt);
}

// A filtered walk meets only the allowed nodes near the query. When the
// allowed rows all lie in another part of the graph it comes back short;
// the store then scans them, and the answer is the exact one.
TEST_F(VectorStoreTest, AFilteredWalkThatComesBackShortIsFinishedByAScan) {
  options_.scaling.enabled = false;
  {
    std::unique_ptr<Database> db = OpenDatabase();
    ASSERT_NE(db, nullptr);
    std::mt19937 rng(11);
    std::normal_distribution<float> noise(0, 0.1f);
    WriteBatch batch;
    // 6,000 vectors around +e0 and 6,000 (the allowed ones) around -e0:
    // more than the store ever scans without trying the graph.
    for (int i = 0; i < 12000; ++i) {
      NewNode node;
      node.id = "v" + std::to_string(i);
      node.content = node.id;
      node.embedding.resize(8);
      for (float& x : node.embedding) x = noise(rng);
      node.embedding[0] += i < 6000 ? 1.0f : -1.0f;
      batch.Create(std::move(node));
    }
    ASSERT_OK(db->Write(batch).status());
  }
  OpenStore();
  std::vector<int64_t> allowed;
  {
    auto stmt = conn_->Prepare(
        "SELECT rowid FROM nodes WHERE CAST(substr(id, 2) AS INTEGER) >= 6000 ORDER BY rowid");
    ASSERT_TRUE(stmt.ok());
    storage::ScopedStatement s(**stmt);
    while (true) {
      auto row = s->Step();
      ASSERT_TRUE(row.ok());
      if (!*row) break;
      allowed.push_back(s->ColumnInt(0));
    }
  }
  ASSERT_EQ(allowed.size(), 6000u);
  std::vector<float> q(8, 0.0f);
  q[0] = 1;
  VectorIndexStore::Query query;
  query.vector = q;
  query.k = 10;
  query.ef = 16;  // a narrow beam
  query.allowed = &allowed;
  ASSERT_OK_AND_ASSIGN(VectorIndexStore::Answer answer, store_->Search(query));
  EXPECT_NE(answer.plan.find("then exact_filtered"), std::string::npos) << answer.plan;
  std::vector<std::string> ids;
  for (const vector::Neighbor& n : answer.result.neighbors) ids.push_back(IdOf(n.label));
  std::string exact_plan;
  EXPECT_EQ(ids, Nearest(q, 10, true, &exact_plan, &allowed));
  EXPECT_EQ(exact_plan, "exact_filtered");
  EXPECT_EQ(ids.size(), 10u);
}

TEST_F(VectorStoreTest, SwitchesToTheGraphAndBackAndTheKindSurvivesReopening) {
  CreateDatabase(3000, 16);
  OpenStore();
  ASSERT_EQ(store_->Info().kind, VectorIndexKind::kFlat);
  log_.clear();
  ASSERT_OK(store_->UseIndexKind(*conn_, VectorIndexKind::kHnsw));
  EXPECT_TRUE(IndexFileExists());
  EXPECT_EQ(Meta("vector_index"), "hnsw");
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_NE(log_[0].find("vector index: HNSW graph built over 3000 vectors in"), std::string::npos)
      << log_[0];
  VectorIndexInfo info = store_->Info();
  EXPECT_EQ(info.kind, VectorIndexKind::kHnsw);
  EXPECT_EQ(info.size, 3000);
  EXPECT_EQ(info.deleted, 0);
  EXPECT_GT(info.file_bytes, 3000 * 16 * 4);
  EXPECT_FALSE(info.mapped);
  EXPECT_EQ(info.tuning, (VectorTuning{16, 200, 128, false}));  // from Options

  std::mt19937 rng(3);
  for (int q = 0; q < 20; ++q) {
    const int target = static_cast<int>(rng() % 3000);
    const std::vector<float> query = Nudge(vectors_[target], rng);
    std::string graph_plan, exact_plan;
    std::vector<std::string> graph = Nearest(query, 10, false, &graph_plan);
    std::vector<std::string> exact = Nearest(query, 10, true, &exact_plan);
    EXPECT_EQ(graph_plan, "graph");
    EXPECT_EQ(exact_plan, "exact");
    ASSERT_FALSE(graph.empty());
    EXPECT_EQ(graph.front(), exact.front());
    EXPECT_EQ(graph.front(), "v" + std::to_string(target));
  }
  // Filtered searches follow RecommendSearchPlan: 1,500 allowed rows are
  // few enough (<= 5,000) to score one by one.
  std::vector<int64_t> half;
  for (int64_t row = 1; row <= 3000; row += 2) half.push_back(row);
  std::string plan;
  EXPECT_EQ(Nearest(vectors_[0], 1, false, &plan, &half), std::vector<std::string>{"v0"});
  EXPECT_EQ(plan, "exact_filtered");

  // A later process finds the graph through meta, even with scaling on and
  // through the public API.
  CloseStore();
  {
    std::unique_ptr<Database> db = OpenDatabase();
    VectorSearchOptions o;
    o.vector = vectors_[11];
    ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db->SearchVector(o));
    EXPECT_EQ(r.plan, "graph");
    EXPECT_EQ(r.hits.front().node.id, "v11");
  }
  log_.clear();
  OpenStore();
  EXPECT_EQ(store_->Info().kind, VectorIndexKind::kHnsw);
  EXPECT_TRUE(store_->Info().mapped);
  EXPECT_EQ(VectorLog(), "");

  // Back to flat: the file goes, searches are exact again.
  ASSERT_OK(store_->UseIndexKind(*conn_, VectorIndexKind::kFlat));
  EXPECT_FALSE(IndexFileExists());
  EXPECT_EQ(Meta("vector_index"), "flat");
  EXPECT_TRUE(Logged("vector index: flat (exact) index built over 3000 vectors"));
  EXPECT_EQ(Nearest(vectors_[5], 1, false, &plan), std::vector<std::string>{"v5"});
  EXPECT_EQ(plan, "exact");
  EXPECT_EQ(store_->Info().file_bytes, 0);
  CloseStore();
  EXPECT_FALSE(IndexFileExists());  // closing a flat store writes nothing
  OpenStore();
  EXPECT_EQ(store_->Info().kind, VectorIndexKind::kFlat);
  EXPECT_EQ(store_->Info().size, 3000);
}

TEST_F(VectorStoreTest, MaintenanceNeedsAnIdleWritableConnection) {
  CreateDatabase(50, 4);
  OpenStore();
  ASSERT_OK(conn_->Exec("BEGIN"));
  EXPECT_EQ(store_->UseIndexKind(*conn_, VectorIndexKind::kHnsw).code(),
            StatusCode::kInvalidArgument);
  ASSERT_OK(conn_->Exec("COMMIT"));
  EXPECT_EQ(store_->Info().kind, VectorIndexKind::kFlat);
  EXPECT_EQ(Meta("vector_index"), std::nullopt);

  options_.read_only = true;
  OpenStore();
  EXPECT_EQ(store_->UseIndexKind(*conn_, VectorIndexKind::kHnsw).code(), StatusCode::kNotSupported);
  EXPECT_EQ(store_->Retune(*conn_, VectorTuning{}).code(), StatusCode::kNotSupported);
}

TEST_F(VectorStoreTest, RetunePersistsAndRebuildsTheGraph) {
  CreateDatabase(1500, 16);
  OpenStore();
  // Flat: the tuning is only recorded.
  const VectorTuning tuned{24, 100, 64, false};
  ASSERT_OK(store_->Retune(*conn_, tuned));
  EXPECT_EQ(store_->Info().kind, VectorIndexKind::kFlat);
  EXPECT_EQ(store_->Info().tuning, tuned);
  EXPECT_FALSE(IndexFileExists());
  ASSERT_TRUE(Meta("vector_tuning").has_value());
  auto json = nlohmann::json::parse(*Meta("vector_tuning"));
  EXPECT_EQ(json["m"], 24);
  EXPECT_EQ(json["ef_construction"], 100);
  EXPECT_EQ(json["ef_search"], 64);
  EXPECT_EQ(json["int8"], false);

  // The graph built later uses it.
  ASSERT_OK(store_->UseIndexKind(*conn_, VectorIndexKind::kHnsw));
  EXPECT_EQ(store_->Info().tuning, tuned);

  // Hnsw: a retune rebuilds.
  log_.clear();
  const VectorTuning wider{12, 150, 96, false};
  ASSERT_OK(store_->Retune(*conn_, wider));
  EXPECT_EQ(store_->Info().tuning, wider);
  EXPECT_TRUE(
      Logged("HNSW graph rebuilt with m 12, ef_construction 150, ef_search 96, int8 off "
             "over 1500 vectors"));
  std::mt19937 rng(5);
  std::string plan;
  EXPECT_EQ(Nearest(Nudge(vectors_[77], rng), 1, false, &plan).front(), "v77");
  EXPECT_EQ(plan, "graph");

  // Bad parameters change nothing.
  EXPECT_EQ(store_->Retune(*conn_, VectorTuning{1, 100, 64, false}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Retune(*conn_, VectorTuning{16, 0, 64, false}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Info().tuning, wider);
  EXPECT_EQ(nlohmann::json::parse(*Meta("vector_tuning"))["m"], 12);

  // Reopened: the file already has the tuning, no rebuild.
  log_.clear();
  OpenStore();
  EXPECT_EQ(store_->Info().tuning, wider);
  EXPECT_EQ(VectorLog(), "");

  // A tuning stored without the rebuild (a crash cut Retune short): a new
  // beam needs no rebuild, new links do.
  ASSERT_OK(
      conn_->Exec("UPDATE meta SET value = '{\"m\":12,\"ef_construction\":150,"
                  "\"ef_search\":200,\"int8\":false}' WHERE key = 'vector_tuning'"));
  OpenStore();
  EXPECT_EQ(VectorLog(), "");
  EXPECT_EQ(store_->Info().tuning.ef_search, 200u);
  EXPECT_TRUE(store_->Info().mapped);
  ASSERT_OK(
      conn_->Exec("UPDATE meta SET value = '{\"m\":20,\"ef_construction\":150,"
                  "\"ef_search\":200,\"int8\":false}' WHERE key = 'vector_tuning'"));
  OpenStore();
  EXPECT_TRUE(Logged("the database's tuning is m 20")) << VectorLog();
  EXPECT_EQ(store_->Info().tuning, (VectorTuning{20, 150, 200, false}));

  // A damaged value is reported and the configured parameters used.
  ASSERT_OK(conn_->Exec("UPDATE meta SET value = 'not json' WHERE key = 'vector_tuning'"));
  log_.clear();
  OpenStore();
  EXPECT_TRUE(Logged("unusable value")) << VectorLog();
  EXPECT_EQ(store_->Info().tuning.m, 20u);  // the graph on disk stays in use
  EXPECT_EQ(Nearest(vectors_[9], 1).front(), "v9");
}

// Turning int8 on for the graph in use quantizes it in place: no rebuild,
// the file is rewritten with codes and searches read it mapped.
TEST_F(VectorStoreTest, Int8TuningQuantizesTheGraphInPlace) {
  CreateDatabase(1500, 16);
  OpenStore();
  ASSERT_OK(store_->UseIndexKind(*conn_, VectorIndexKind::kHnsw));
  EXPECT_FALSE(store_->Info().quantizer_trained);
  // A store that has not synced yet (a process that has not searched) opens
  // the graph in use before deciding, so it is not rebuilt either.
  store_ = std::make_unique<VectorIndexStore>(dir_.path(), options_);
  log_.clear();
  ASSERT_OK(store_->Retune(*conn_, VectorTuning{16, 200, 128, true}));
  EXPECT_NE(VectorLog().find("quantized to int8 in place"), std::string::npos) << VectorLog();
  EXPECT_EQ(VectorLog().find("rebuil"), std::string::npos) << VectorLog();
  VectorIndexInfo info = store_->Info();
  EXPECT_TRUE(info.tuning.int8);
  EXPECT_TRUE(info.quantizer_trained);
  EXPECT_TRUE(info.mapped);
  std::mt19937 rng(8);
  std::string plan;
  for (int target : {0, 500, 1499}) {
    EXPECT_EQ(Nearest(Nudge(vectors_[target], rng), 1, false, &plan).front(),
              "v" + std::to_string(target));
    EXPECT_EQ(plan, "graph");
  }
  // The trained codes are in the file, which matches the persisted tuning.
  log_.clear();
  OpenStore();
  EXPECT_TRUE(store_->Info().quantizer_trained);
  EXPECT_TRUE(store_->Info().mapped);
  EXPECT_EQ(VectorLog(), "");
  // A wider beam with int8 still on is a search parameter: no rebuild.
  ASSERT_OK(store_->Retune(*conn_, VectorTuning{16, 200, 200, true}));
  EXPECT_EQ(store_->Info().tuning.ef_search, 200u);
  EXPECT_EQ(VectorLog().find("rebuil"), std::string::npos) << VectorLog();
}

// Polls Info() until the background mapping of an opened file has ended.
VectorIndexInfo InfoAfterWarmUp(const VectorIndexStore& store) {
  VectorIndexInfo info = store.Info();
  for (int i = 0; i < 1000 && info.warm_up_running; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    info = store.Info();
  }
  return info;
}

TEST_F(VectorStoreTest, AnOpenedGraphFileIsMappedInTheBackground) {
  CreateDatabase(1500, 16);
  OpenStore();
  ASSERT_OK(store_->UseIndexKind(*conn_, VectorIndexKind::kHnsw));
  VectorIndexInfo built = store_->Info();
  EXPECT_FALSE(built.mapped);
  EXPECT_EQ(built.warmed_bytes, 0);  // a graph in memory has nothing to map
  OpenStore();
  VectorIndexInfo info = InfoAfterWarmUp(*store_);
  ASSERT_TRUE(info.mapped);
  EXPECT_FALSE(info.warm_up_running);
  EXPECT_GT(info.file_bytes, 1500 * 16 * 4);
  EXPECT_EQ(info.warmed_bytes, info.file_bytes);
  std::mt19937 rng(9);
  EXPECT_EQ(Nearest(Nudge(vectors_[700], rng), 1).front(), "v700");

  // Quantized, the whole file is mapped in as well (floats re-score), until
  // memory pressure releases the floats.
  ASSERT_OK(store_->Retune(*conn_, VectorTuning{16, 200, 128, true}));
  OpenStore();
  info = InfoAfterWarmUp(*store_);
  ASSERT_TRUE(info.quantizer_trained);
  EXPECT_EQ(info.warmed_bytes, info.file_bytes);
  EXPECT_EQ(Nearest(Nudge(vectors_[42], rng), 1).front(), "v42");

  // Closing, or giving memory back, while it runs ends it (a store closed
  // at once must not wait for a large file, nor crash).
  for (int i = 0; i < 5; ++i) {
    OpenStore();
    ASSERT_OK(store_->ReleaseMemory());
    EXPECT_FALSE(store_->Info().warm_up_running);
  }
  EXPECT_EQ(Nearest(Nudge(vectors_[1499], rng), 1).front(), "v1499");
}

TEST_F(VectorStoreTest, ReclaimTombstonesCompactsTheGraph) {
  options_.durability = Durability::kNormal;
  CreateDatabase(2000, 8);
  OpenStore();
  ASSERT_OK(store_->UseIndexKind(*conn_, VectorIndexKind::kHnsw));
  {
    std::unique_ptr<Database> db = OpenDatabase();
    WriteBatch batch;
    for (int i = 0; i < 2000; i += 2) batch.Delete("v" + std::to_string(i));
    ASSERT_TRUE(db->Write(batch).ok());
  }
  ASSERT_OK(store_->Sync(*conn_));
  VectorIndexInfo info = store_->Info();
  EXPECT_EQ(info.size, 1000);
  EXPECT_EQ(info.deleted, 1000);
  ASSERT_OK_AND_ASSIGN(int64_t reclaimed, store_->ReclaimTombstones(0.6));
  EXPECT_EQ(reclaimed, 0);  // half the slots, below 60 %
  EXPECT_EQ(store_->Info().deleted, 1000);
  ASSERT_OK_AND_ASSIGN(reclaimed, store_->ReclaimTombstones(0.25));
  EXPECT_EQ(reclaimed, 1000);
  info = store_->Info();
  EXPECT_EQ(info.size, 1000);
  EXPECT_EQ(info.deleted, 0);
  std::string plan;
  std::mt19937 rng(4);
  EXPECT_EQ(Nearest(Nudge(vectors_[301], rng), 1, false, &plan).front(), "v301");
  EXPECT_EQ(plan, "graph");
  for (const std::string& id : Nearest(vectors_[300], 10)) {
    EXPECT_EQ(std::stoi(id.substr(1)) % 2, 1) << id << " was deleted";
  }
  // Saved compacted: reopening neither rebuilds nor replays the deletions.
  log_.clear();
  OpenStore();
  EXPECT_EQ(store_->Info().deleted, 0);
  EXPECT_EQ(store_->Info().size, 1000);
  EXPECT_TRUE(store_->Info().mapped);
  EXPECT_EQ(VectorLog(), "");
}

TEST_F(VectorStoreTest, ReleaseMemoryServesSearchesFromTheMappedFile) {
  CreateDatabase(2000, 16);
  OpenStore();
  ASSERT_OK(store_->UseIndexKind(*conn_, VectorIndexKind::kHnsw));
  // A change applied in memory only: the graph is ahead of its file.
  std::mt19937 rng(6);
  const std::vector<float> late = RandomVector(rng, 16);
  {
    std::unique_ptr<Database> db = OpenDatabase();
    NewNode n;
    n.id = "late";
    n.content = "late";
    n.embedding = late;
    ASSERT_TRUE(db->Create(n).ok());
  }
  ASSERT_OK(store_->Sync(*conn_));
  const VectorIndexInfo before = store_->Info();
  EXPECT_FALSE(before.mapped);
  EXPECT_EQ(before.size, 2001);
  ASSERT_OK(store_->ReleaseMemory());
  const VectorIndexInfo after = store_->Info();
  EXPECT_TRUE(after.mapped);
  EXPECT_LT(after.memory_bytes, before.memory_bytes / 10);
  EXPECT_EQ(after.size, 2001);
  std::string plan;
  EXPECT_EQ(Nearest(late, 1, false, &plan).front(), "late");
  EXPECT_EQ(plan, "graph");
  EXPECT_EQ(Nearest(Nudge(vectors_[1234], rng), 1).front(), "v1234");
  ASSERT_OK(store_->ReleaseMemory());  // already mapped: nothing to do
  // The late node was saved before mapping: a new store needs no replay.
  log_.clear();
  OpenStore();
  EXPECT_EQ(store_->Info().size, 2001);
  EXPECT_TRUE(store_->Info().mapped);
  EXPECT_EQ(VectorLog(), "");
  // The next change copies the graph back into memory.
  {
    std::unique_ptr<Database> db = OpenDatabase();
    ASSERT_TRUE(db->Delete("late").ok());
  }
  ASSERT_OK(store_->Sync(*conn_));
  EXPECT_FALSE(store_->Info().mapped);
  EXPECT_EQ(store_->Info().size, 2000);
  EXPECT_NE(Nearest(late, 1).front(), "late");
}

TEST_F(VectorStoreTest, InvalidateForgetsStateAndTheNextSyncRereadsIt) {
  CreateDatabase(500, 8);
  OpenStore();
  ASSERT_OK(store_->UseIndexKind(*conn_, VectorIndexKind::kHnsw));
  EXPECT_FALSE(store_->Info().mapped);
  store_->Invalidate();
  EXPECT_EQ(store_->Info().size, 0);
  EXPECT_EQ(Nearest(vectors_[1], 1), std::vector<std::string>{});  // nothing held
  ASSERT_OK(store_->Sync(*conn_));
  EXPECT_EQ(store_->Info().kind, VectorIndexKind::kHnsw);
  EXPECT_TRUE(store_->Info().mapped);  // re-opened from the file
  EXPECT_EQ(Nearest(vectors_[1], 1).front(), "v1");

  // Content restored in place with other settings: the kind is read again
  // and the graph file, useless to a flat index, removed.
  ASSERT_OK(conn_->Exec("UPDATE meta SET value = 'flat' WHERE key = 'vector_index'"));
  ASSERT_OK(store_->Sync(*conn_));
  EXPECT_EQ(store_->Info().kind, VectorIndexKind::kHnsw);  // not re-read without Invalidate
  log_.clear();
  store_->Invalidate();
  ASSERT_OK(store_->Sync(*conn_));
  EXPECT_EQ(store_->Info().kind, VectorIndexKind::kFlat);
  EXPECT_EQ(store_->Info().size, 500);
  EXPECT_FALSE(IndexFileExists());
  EXPECT_TRUE(Logged("is not used by this database's flat index"));
  EXPECT_EQ(Nearest(vectors_[2], 1).front(), "v2");
}

TEST_F(VectorStoreTest, FlatIndexCatchesUpWithChangesMadeElsewhere) {
  CreateDatabase(100, 4);
  OpenStore();
  ASSERT_EQ(store_->Info().kind, VectorIndexKind::kFlat);
  ASSERT_EQ(store_->Info().size, 100);
  std::mt19937 rng(9);
  const std::vector<float> fresh = RandomVector(rng, 4);
  const std::vector<float> flipped = {-vectors_[5][0], -vectors_[5][1], -vectors_[5][2],
                                      -vectors_[5][3]};
  {
    std::unique_ptr<Database> db = OpenDatabase();
    NewNode n;
    n.id = "fresh";
    n.content = "fresh";
    n.embedding = fresh;
    ASSERT_TRUE(db->Create(n).ok());
    NodePatch patch;
    patch.embedding = flipped;
    ASSERT_TRUE(db->Update("v5", patch).ok());
    ASSERT_TRUE(db->Delete("v7").ok());
    ASSERT_TRUE(db->SetLifecycle("v9", Lifecycle::kArchived).ok());
    NodePatch clear;
    clear.embedding = std::vector<float>{};
    ASSERT_TRUE(db->Update("v10", clear).ok());
  }
  ASSERT_OK(store_->Sync(*conn_));
  EXPECT_EQ(store_->Info().size, 100 + 1 - 3);
  std::string plan;
  EXPECT_EQ(Nearest(fresh, 1, false, &plan).front(), "fresh");
  EXPECT_EQ(plan, "exact");
  EXPECT_EQ(Nearest(flipped, 1).front(), "v5");
  EXPECT_NE(Nearest(vectors_[5], 1).front(), "v5");
  for (int gone : {7, 9, 10}) {
    for (const std::string& id : Nearest(vectors_[gone], 100)) {
      EXPECT_NE(id, "v" + std::to_string(gone));
    }
  }
  EXPECT_FALSE(IndexFileExists());
  EXPECT_EQ(VectorLog(), "");

  // Restored from the archive: back in the index.
  {
    std::unique_ptr<Database> db = OpenDatabase();
    ASSERT_TRUE(db->SetLifecycle("v9", Lifecycle::kActive).ok());
  }
  ASSERT_OK(store_->Sync(*conn_));
  EXPECT_EQ(Nearest(vectors_[9], 1).front(), "v9");
}

TEST_F(VectorStoreTest, CatchUpInSlicesEndsWhereOnePassWould) {
  options_.vector_catch_up_slice = 3;  // 40 changes: 14 read transactions
  CreateDatabase(300, 8);
  OpenStore();
  std::mt19937 rng(21);
  std::vector<std::vector<float>> added;
  std::vector<std::vector<float>> moved;
  {
    std::unique_ptr<Database> db = OpenDatabase();
    added = CreateEach(*db, "new", 20, rng);
    for (int i = 0; i < 10; ++i) {
      NodePatch patch;
      patch.embedding = RandomVector(rng, 8);
      moved.push_back(*patch.embedding);
      ASSERT_TRUE(db->Update("v" + std::to_string(i), patch).ok());
    }
    for (int i = 10; i < 20; ++i) ASSERT_TRUE(db->Delete("v" + std::to_string(i)).ok());
  }
  ASSERT_OK(store_->Sync(*conn_));
  EXPECT_EQ(store_->Info().size, 300 + 20 - 10);
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(Nearest(added[i], 1, true).front(), "new" + std::to_string(i));
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(Nearest(moved[i], 1, true).front(), "v" + std::to_string(i));
  for (int i = 10; i < 20; ++i) {
    for (const std::string& id : Nearest(vectors_[i], 50, true))
      EXPECT_NE(id, "v" + std::to_string(i));
  }
  // A store that catches up in one pass holds the same vectors.
  const std::vector<std::string> sliced = Nearest(vectors_[100], 30, true);
  options_.vector_catch_up_slice = 1000000;
  OpenStore();
  EXPECT_EQ(store_->Info().size, 300 + 20 - 10);
  EXPECT_EQ(Nearest(vectors_[100], 30, true), sliced);
}

TEST_F(VectorStoreTest, ABuildReadsInSlicesAndHoldsWhatOnePassWould) {
  options_.vector_catch_up_slice = 7;  // 300 rows: 43 read transactions
  options_.scaling.enabled = false;    // the graph kind (with a file)
  CreateDatabase(300, 8);
  {
    std::unique_ptr<Database> db = OpenDatabase();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(db->Delete("v" + std::to_string(i)).ok());
  }
  std::filesystem::remove(dir_.Sub("vectors.idx"));
  OpenStore();  // no file: built from the stored vectors
  EXPECT_TRUE(Logged("building it from the stored vectors")) << VectorLog();
  EXPECT_EQ(store_->Info().size, 290);
  for (int i = 10; i < 300; i += 37) {
    EXPECT_EQ(Nearest(vectors_[i], 1, true).front(), "v" + std::to_string(i));
  }
  const std::vector<std::string> sliced = Nearest(vectors_[150], 40, true);
  CloseStore();
  std::filesystem::remove(dir_.Sub("vectors.idx"));
  options_.vector_catch_up_slice = 1000000;
  OpenStore();
  EXPECT_EQ(store_->Info().size, 290);
  EXPECT_EQ(Nearest(vectors_[150], 40, true), sliced);
}

// A stop flag (a vector service shutting down) ends a catch-up or a build
// at the next slice; the store stays consistent and the next Sync finishes.
TEST_F(VectorStoreTest, AStopFlagEndsCatchUpAndBuildAtASlice) {
  options_.vector_catch_up_slice = 5;
  options_.scaling.enabled = false;  // the graph kind (with a file)
  CreateDatabase(100, 8);
  OpenStore();
  std::mt19937 rng(31);
  {
    std::unique_ptr<Database> db = OpenDatabase();
    CreateEach(*db, "late", 20, rng);
  }
  const std::atomic<bool> stop{true};
  Status st = store_->Sync(*conn_, &stop);
  EXPECT_EQ(st.code(), StatusCode::kBusy) << st.ToString();
  EXPECT_NE(st.message().find("catch-up interrupted"), std::string::npos) << st.ToString();
  EXPECT_EQ(store_->Info().size, 105);  // one slice of five changes
  ASSERT_OK(store_->Sync(*conn_));
  EXPECT_EQ(store_->Info().size, 120);

  // A build from the stored vectors stops after its first slice too; no
  // partial graph is installed, and the next Sync builds it whole.
  CloseStore();
  std::filesystem::remove(dir_.Sub("vectors.idx"));
  auto conn = storage::Connection::Open(dir_.Sub("nodespace.db"), false, false);
  ASSERT_TRUE(conn.ok());
  conn_ = std::move(*conn);
  store_ = std::make_unique<VectorIndexStore>(dir_.path(), options_);
  st = store_->Sync(*conn_, &stop);
  EXPECT_EQ(st.code(), StatusCode::kBusy) << st.ToString();
  EXPECT_NE(st.message().find("build interrupted"), std::string::npos) << st.ToString();
  EXPECT_EQ(store_->Info().size, 0);
  ASSERT_OK(store_->Sync(*conn_));
  EXPECT_EQ(store_->Info().size, 120);
  EXPECT_EQ(Nearest(vectors_[42], 1, true).front(), "v42");
}

TEST_F(VectorStoreTest, FirstVectorsArriveAfterTheStoreOpened) {
  // No vector yet: each kind creates its index on the first catch-up that
  // brings one.
  for (bool scaling : {true, false}) {
    SCOPED_TRACE(scaling ? "flat" : "hnsw");
    testing::TempDir dir;
    options_.scaling.enabled = scaling;
    auto db = Database::Open(dir.path(), options_);
    ASSERT_TRUE(db.ok());
    NewNode root;
    root.id = "root";
    root.content = "no vector";
    ASSERT_TRUE((*db)->Create(root).ok());
    auto conn = storage::Connection::Open(dir.Sub("nodespace.db"), false, false);
    ASSERT_TRUE(conn.ok());
    VectorIndexStore store(dir.path(), options_);
    ASSERT_OK(store.Sync(**conn));
    EXPECT_EQ(store.Info().size, 0);
    NewNode n;
    n.id = "first";
    n.content = "first";
    n.embedding = std::vector<float>{1, 2, 3};
    ASSERT_TRUE((*db)->Create(n).ok());
    ASSERT_OK(store.Sync(**conn));
    EXPECT_EQ(store.Info().kind, scaling ? VectorIndexKind::kFlat : VectorIndexKind::kHnsw);
    EXPECT_EQ(store.Info().size, 1);
    VectorIndexStore::Query q;
    const std::vector<float> v{1, 2, 3};
    q.vector = v;
    ASSERT_OK_AND_ASSIGN(VectorIndexStore::Answer answer, store.Search(q));
    ASSERT_EQ(answer.result.neighbors.size(), 1u);
    EXPECT_EQ(answer.plan, "exact");
  }
}

TEST(VectorTuningTest, TunedParametersGrowWithTheCollection) {
  EXPECT_EQ(TunedParametersFor(0), (VectorTuning{16, 200, 64, false}));
  EXPECT_EQ(TunedParametersFor(49999), (VectorTuning{16, 200, 64, false}));
  EXPECT_EQ(TunedParametersFor(50000), (VectorTuning{16, 200, 128, false}));
  EXPECT_EQ(TunedParametersFor(499999), (VectorTuning{16, 200, 128, false}));
  EXPECT_EQ(TunedParametersFor(500000), (VectorTuning{24, 200, 192, true}));
  EXPECT_EQ(TunedParametersFor(10000000), (VectorTuning{24, 200, 192, true}));
}

}  // namespace
}  // namespace nodespace
