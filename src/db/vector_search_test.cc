// Vector search through the Database: the index as derived state (catch-up,
// rebuild), exact vs graph plans, filters, and the built-in embedder.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "nodespace/database.h"
#include "test_util.h"

namespace nodespace {
namespace {

std::vector<float> RandomVector(std::mt19937& rng, int dims) {
  std::normal_distribution<float> g;
  std::vector<float> v(dims);
  for (float& x : v) x = g(rng);
  return v;
}

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / std::sqrt(na * nb);
}

class VectorSearchTest : public ::testing::Test {
 protected:
  void Open(Options options = {}) {
    db_.reset();
    log_.clear();
    options.info_log = [this](std::string_view line) { log_.emplace_back(line); };
    auto db = Database::Open(dir_.path(), options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
  }

  // n nodes "v0".."v{n-1}" under two roots, types alternating, property
  // "color" cycling red/green/blue, created_at = i days.
  void Fill(int n, int dims, int seed = 7) {
    std::mt19937 rng(seed);
    for (const char* root : {"rootA", "rootB"}) {
      NewNode r;
      r.id = root;
      r.content = root;
      ASSERT_TRUE(db_->Create(r).ok());
    }
    WriteBatch batch;
    for (int i = 0; i < n; ++i) {
      NewNode node;
      node.id = "v" + std::to_string(i);
      node.parent_id = i % 4 == 0 ? "rootB" : "rootA";
      node.node_type = i % 2 == 0 ? "text" : "task";
      static const char* kColors[] = {"red", "green", "blue"};
      node.properties = std::string("{\"color\":\"") + kColors[i % 3] + "\"}";
      node.content = "node " + std::to_string(i);
      node.created_at = int64_t{86400000} * i;
      node.embedding = RandomVector(rng, dims);
      vectors_.push_back(node.embedding);
      batch.Create(std::move(node));
    }
    auto r = db_->Write(batch);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  // The ids of the k nearest allowed nodes, by brute force.
  std::vector<std::string> BruteForce(const std::vector<float>& q, size_t k,
                                      const std::function<bool(int)>& allowed) {
    std::vector<std::pair<double, int>> scored;
    for (size_t i = 0; i < vectors_.size(); ++i) {
      if (allowed(static_cast<int>(i))) scored.emplace_back(-Cosine(q, vectors_[i]), i);
    }
    std::sort(scored.begin(), scored.end());
    std::vector<std::string> out;
    for (size_t i = 0; i < std::min(k, scored.size()); ++i) {
      out.push_back("v" + std::to_string(scored[i].second));
    }
    return out;
  }

  static std::vector<std::string> Ids(const VectorSearchResult& r) {
    std::vector<std::string> out;
    for (const VectorHit& h : r.hits) out.push_back(h.node.id);
    return out;
  }

  static bool Has(const VectorSearchResult& r, const std::string& id) {
    for (const VectorHit& h : r.hits) {
      if (h.node.id == id) return true;
    }
    return false;
  }

  static double Overlap(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    std::set<std::string> sa(a.begin(), a.end());
    size_t common = 0;
    for (const auto& x : b) common += sa.count(x);
    return b.empty() ? 1.0 : static_cast<double>(common) / b.size();
  }

  testing::TempDir dir_;
  // Declared before db_ so it outlives the database, which may log as it closes.
  std::vector<std::string> log_;
  std::unique_ptr<Database> db_;
  std::vector<std::vector<float>> vectors_;
};

TEST_F(VectorSearchTest, SmallCollectionsAreSearchedExactly) {
  Open();
  Fill(200, 8);
  std::mt19937 rng(1);
  for (int q = 0; q < 5; ++q) {
    VectorSearchOptions o;
    o.vector = RandomVector(rng, 8);
    ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db_->SearchVector(o));
    EXPECT_EQ(r.plan, "exact");
    EXPECT_EQ(r.index_size, 200);
    EXPECT_EQ(Ids(r), BruteForce(o.vector, 10, [](int) { return true; }));
    for (size_t i = 1; i < r.hits.size(); ++i)
      EXPECT_LE(r.hits[i - 1].distance, r.hits[i].distance);
  }
}

TEST_F(VectorSearchTest, GraphSearchAgreesWithExactSearch) {
  Options options;
  options.exact_search_max_vectors = 100;  // force the graph
  options.scaling.enabled = false;         // a new database would start flat
  Open(options);
  Fill(3000, 16);
  std::mt19937 rng(2);
  double recall = 0;
  const int kQueries = 40;
  for (int q = 0; q < kQueries; ++q) {
    VectorSearchOptions o;
    o.vector = RandomVector(rng, 16);
    ASSERT_OK_AND_ASSIGN(VectorSearchResult graph, db_->SearchVector(o));
    EXPECT_EQ(graph.plan, "graph");
    o.exact = true;
    ASSERT_OK_AND_ASSIGN(VectorSearchResult exact, db_->SearchVector(o));
    EXPECT_EQ(exact.plan, "exact");
    EXPECT_EQ(Ids(exact), BruteForce(o.vector, 10, [](int) { return true; }));
    recall += Overlap(Ids(graph), Ids(exact));
  }
  EXPECT_GE(recall / kQueries, 0.95);
}

TEST_F(VectorSearchTest, FiltersMatchBruteForceAtEverySelectivity) {
  Options options;
  options.exact_search_max_vectors = 100;
  options.scaling.enabled = false;  // a new database would start flat
  Open(options);
  Fill(3000, 16);
  std::mt19937 rng(3);
  struct Case {
    const char* name;
    SearchFilter filter;
    std::function<bool(int)> allowed;
  };
  std::vector<Case> cases;
  {
    SearchFilter f;
    f.node_types = {"task"};
    cases.push_back({"type", f, [](int i) { return i % 2 == 1; }});
  }
  {
    SearchFilter f;
    f.properties.push_back({"color", {"red", "blue"}});
    cases.push_back({"property", f, [](int i) { return i % 3 != 1; }});
  }
  {
    SearchFilter f;
    f.created_from = int64_t{86400000} * 100;
    f.created_before = int64_t{86400000} * 130;  // 1 %
    cases.push_back({"dates", f, [](int i) { return i >= 100 && i < 130; }});
  }
  {
    SearchFilter f;
    f.under = "rootB";
    f.node_types = {"text"};
    cases.push_back({"subtree+type", f, [](int i) { return i % 4 == 0; }});
  }
  for (const Case& c : cases) {
    double recall = 0;
    for (int q = 0; q < 10; ++q) {
      VectorSearchOptions o;
      o.vector = RandomVector(rng, 16);
      o.filter = c.filter;
      ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db_->SearchVector(o));
      for (const VectorHit& h : r.hits) {
        int i = std::stoi(h.node.id.substr(1));
        EXPECT_TRUE(c.allowed(i)) << c.name << " returned " << h.node.id;
      }
      recall += Overlap(Ids(r), BruteForce(o.vector, 10, c.allowed));
    }
    EXPECT_GE(recall / 10, 0.95) << c.name;
  }
  // The 1 % date filter is small enough to scan; a 50 % filter walks the graph.
  VectorSearchOptions o;
  o.vector = RandomVector(rng, 16);
  o.filter = cases[2].filter;
  ASSERT_OK_AND_ASSIGN(VectorSearchResult narrow, db_->SearchVector(o));
  EXPECT_EQ(narrow.plan, "exact_filtered");
  EXPECT_EQ(narrow.allowed_count, 30);
  SearchFilter missing;
  missing.under = "no-such-node";
  o.filter = missing;
  EXPECT_EQ(db_->SearchVector(o).status().code(), StatusCode::kNotFound);
  SearchFilter bad;
  bad.properties.push_back({"color') OR 1=1 --", {"x"}});
  o.filter = bad;
  EXPECT_EQ(db_->SearchVector(o).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(VectorSearchTest, WrongQueriesGetClearErrors) {
  Open();
  Fill(20, 4);
  VectorSearchOptions o;
  o.vector = {1, 2, 3};
  auto r = db_->SearchVector(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "vector has 3 dims, database uses 4");
  o.vector.clear();
  EXPECT_EQ(db_->SearchVector(o).status().code(), StatusCode::kInvalidArgument);
  o.vector = {1, 0, 0, 0};
  o.k = 0;
  EXPECT_EQ(db_->SearchVector(o).status().code(), StatusCode::kInvalidArgument);
  o.k = 5;
  o.text = "words";  // text and vector together
  EXPECT_EQ(db_->SearchVector(o).status().code(), StatusCode::kInvalidArgument);
  o.vector.clear();  // text, but this database has no embedder
  auto no_embedder = db_->SearchVector(o);
  ASSERT_FALSE(no_embedder.ok());
  EXPECT_NE(no_embedder.status().message().find("no embedder"), std::string::npos);
}

TEST_F(VectorSearchTest, IndexFollowsUpdatesDeletesAndArchiving) {
  Open();
  Fill(50, 4);
  VectorSearchOptions o;
  o.vector = vectors_[7];
  ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db_->SearchVector(o));
  EXPECT_EQ(r.hits.front().node.id, "v7");
  NodePatch patch;
  patch.embedding =
      std::vector<float>{-vectors_[7][0], -vectors_[7][1], -vectors_[7][2], -vectors_[7][3]};
  ASSERT_TRUE(db_->Update("v7", patch).ok());
  ASSERT_OK_AND_ASSIGN(r, db_->SearchVector(o));
  EXPECT_NE(r.hits.front().node.id, "v7");
  o.vector = vectors_[9];
  ASSERT_TRUE(db_->SetLifecycle("v9", Lifecycle::kArchived).ok());
  ASSERT_OK_AND_ASSIGN(r, db_->SearchVector(o));
  EXPECT_FALSE(Has(r, "v9"));
  ASSERT_TRUE(db_->SetLifecycle("v9", Lifecycle::kActive).ok());
  ASSERT_OK_AND_ASSIGN(r, db_->SearchVector(o));
  EXPECT_EQ(r.hits.front().node.id, "v9");
  ASSERT_TRUE(db_->Delete("v9").ok());
  ASSERT_OK_AND_ASSIGN(r, db_->SearchVector(o));
  EXPECT_FALSE(Has(r, "v9"));
  EXPECT_EQ(r.index_size, 49);
  // Removing a node's vector takes it out of the index.
  NodePatch clear;
  clear.embedding = std::vector<float>{};
  ASSERT_TRUE(db_->Update("v10", clear).ok());
  ASSERT_OK_AND_ASSIGN(r, db_->SearchVector(o));
  EXPECT_EQ(r.index_size, 48);
}

TEST_F(VectorSearchTest, CatchesUpAfterAProcessIsKilledBeforeSavingTheIndex) {
  // The graph file is what this test is about; a new database with the
  // scaling manager would start with a flat index and write none.
  Options options;
  options.scaling.enabled = false;
  Open(options);
  Fill(100, 8);
  VectorSearchOptions o;
  o.vector = vectors_[0];
  ASSERT_TRUE(db_->SearchVector(o).ok());  // builds and saves the index
  db_.reset();

  std::mt19937 rng(99);
  std::vector<float> late = RandomVector(rng, 8);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child commits more vectors, searches (the index applies them in
    // memory only) and dies without closing the database.
    auto db = Database::Open(dir_.path());
    if (!db.ok()) _exit(2);
    NewNode n;
    n.id = "late";
    n.content = "late";
    n.embedding = late;
    if (!(*db)->Create(n).ok()) _exit(3);
    VectorSearchOptions q;
    q.vector = late;
    if (!(*db)->SearchVector(q).ok()) _exit(4);
    raise(SIGKILL);
    _exit(5);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;

  Open(options);
  o.vector = late;
  ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db_->SearchVector(o));
  ASSERT_FALSE(r.hits.empty());
  EXPECT_EQ(r.hits.front().node.id, "late");
  EXPECT_EQ(r.index_size, 101);
  EXPECT_TRUE(log_.empty()) << log_.front();  // caught up, not rebuilt
}

TEST_F(VectorSearchTest, CorruptOrMissingIndexFilesAreRebuiltAndLogged) {
  // The graph file is what this test is about; a new database with the
  // scaling manager would start with a flat index and write none.
  Options options;
  options.scaling.enabled = false;
  Open(options);
  Fill(100, 8);
  VectorSearchOptions o;
  o.vector = vectors_[3];
  ASSERT_TRUE(db_->SearchVector(o).ok());
  db_.reset();
  const std::string file = dir_.Sub("vectors.idx");
  auto flip_byte_at = [&](std::streamoff at) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekg(at);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(at);
    f.write(&c, 1);
  };
  // Damage inside a section (the vectors, past the 512-byte header): the
  // integrity check names it, and the next open rebuilds.
  flip_byte_at(1024);
  Open(options);
  Status check = db_->CheckIntegrity();
  EXPECT_EQ(check.code(), StatusCode::kCorruption);
  EXPECT_NE(check.message().find("vector index"), std::string::npos) << check.message();
  ASSERT_OK_AND_ASSIGN(VectorSearchResult repaired, db_->SearchVector(o));
  EXPECT_EQ(repaired.hits.front().node.id, "v3");
  ASSERT_FALSE(log_.empty());
  EXPECT_NE(log_.front().find("unusable"), std::string::npos) << log_.front();
  EXPECT_OK(db_->CheckIntegrity());
  db_.reset();
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekp(0);
    f.write("garbage!", 8);
  }
  log_.clear();
  Open(options);
  ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db_->SearchVector(o));
  EXPECT_EQ(r.hits.front().node.id, "v3");
  ASSERT_FALSE(log_.empty());
  EXPECT_NE(log_.front().find("unusable"), std::string::npos) << log_.front();

  db_.reset();
  std::remove(file.c_str());
  log_.clear();
  Open(options);
  ASSERT_OK_AND_ASSIGN(r, db_->SearchVector(o));
  EXPECT_EQ(r.hits.front().node.id, "v3");
  ASSERT_FALSE(log_.empty());
  EXPECT_NE(log_.front().find("missing"), std::string::npos) << log_.front();
}

TEST_F(VectorSearchTest, BuiltinEmbedderMakesSemanticSearchWork) {
  Open();
  const std::vector<std::string> cooking = {
      "simmer the tomato sauce with garlic and basil", "bake the bread dough in a hot oven",
      "chop onions and fry them in olive oil", "season the soup with salt and pepper",
      "roast the vegetables with garlic and olive oil"};
  const std::vector<std::string> network = {
      "the login server checks the password and issues a session token",
      "users authenticate with a password before the session starts",
      "the router forwards packets to the server", "token expiry forces users to login again",
      "the firewall blocks packets from unknown servers"};
  int i = 0;
  for (const auto& group : {cooking, network}) {
    for (const auto& text : group) {
      NewNode n;
      n.id = "n" + std::to_string(i++);
      n.content = text;
      ASSERT_TRUE(db_->Create(n).ok());
    }
  }
  ASSERT_OK_AND_ASSIGN(EmbedReport fit, db_->FitBuiltinEmbedder(4));
  EXPECT_EQ(fit.embedded, 10);
  EXPECT_EQ(fit.model.rfind("lsa-v1:4:", 0), 0u) << fit.model;
  VectorSearchOptions o;
  o.text = "how do we handle login and passwords";
  o.k = 3;
  ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db_->SearchVector(o));
  ASSERT_EQ(r.hits.size(), 3u);
  for (const VectorHit& h : r.hits) EXPECT_GE(std::stoi(h.node.id.substr(1)), 5) << h.node.content;

  // New nodes wait for a vector until EmbedPending runs.
  NewNode later;
  later.id = "later";
  later.content = "login with a password and a session token";
  ASSERT_TRUE(db_->Create(later).ok());
  ASSERT_OK_AND_ASSIGN(EmbedReport pending, db_->EmbedPending());
  EXPECT_EQ(pending.embedded, 1);
  ASSERT_OK_AND_ASSIGN(Node stored, db_->Get("later"));
  EXPECT_EQ(stored.embedding.size(), 4u);
  ASSERT_OK_AND_ASSIGN(pending, db_->EmbedPending());
  EXPECT_EQ(pending.embedded, 0);

  o.text = "zzzz qqqq";
  auto unknown = db_->SearchVector(o);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("none of the query's words"), std::string::npos);

  // The model survives reopening; a refit is deterministic.
  Open();
  o.text = "bread in the oven";
  ASSERT_OK_AND_ASSIGN(r, db_->SearchVector(o));
  EXPECT_LT(std::stoi(r.hits.front().node.id.substr(1)), 5);
  ASSERT_OK_AND_ASSIGN(EmbedReport refit, db_->FitBuiltinEmbedder(4));
  EXPECT_EQ(refit.embedded, 11);
  ASSERT_OK_AND_ASSIGN(EmbedReport again, db_->FitBuiltinEmbedder(4));
  EXPECT_EQ(again.model, refit.model);  // same text, same model
  EXPECT_EQ(again.embedded, 0);         // whose vectors every node holds
  ASSERT_OK_AND_ASSIGN(EmbedReport stored_dims, db_->FitBuiltinEmbedder());  // 0: as stored
  EXPECT_EQ(stored_dims.model, refit.model);
  // Another dimension would need every vector index rebuilt for it.
  auto other = db_->FitBuiltinEmbedder(8);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("have 4 dims and a refit keeps them"), std::string::npos)
      << other.status().message();
}

TEST_F(VectorSearchTest, BuiltinEmbedderRefusesToMixWithCallerVectors) {
  Open();
  Fill(10, 4);
  auto r = db_->FitBuiltinEmbedder(4);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("supplied by callers"), std::string::npos);
}

}  // namespace
}  // namespace nodespace
