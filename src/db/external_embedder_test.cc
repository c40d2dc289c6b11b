// The database with an external embedding server (OpenAI-compatible
// /v1/embeddings), served for real on loopback.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "nodespace/database.h"
#include "test_util.h"

namespace nodespace {
namespace {

// Embeds a text as (words about food, words about networks, 1).
class FakeEmbeddingServer {
 public:
  FakeEmbeddingServer() {
    server_.Post("/v1/embeddings", [this](const httplib::Request& req, httplib::Response& res) {
      ++requests_;
      if (failing_) {
        res.status = 500;
        res.set_content("{\"error\":\"model is loading\"}", "application/json");
        return;
      }
      auto body = nlohmann::json::parse(req.body);
      nlohmann::json data = nlohmann::json::array();
      int index = 0;
      for (const auto& input : body["input"]) {
        const std::string text = input.get<std::string>();
        float food = 0, net = 0;
        for (const char* w : {"bread", "oven", "soup"}) food += text.find(w) != std::string::npos;
        for (const char* w : {"login", "token", "server"}) net += text.find(w) != std::string::npos;
        data.push_back({{"index", index++}, {"embedding", {food, net, 0.1F}}});
      }
      res.set_content(nlohmann::json({{"data", data}, {"model", body["model"]}}).dump(),
                      "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeEmbeddingServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::atomic<bool> failing_{false};
  std::atomic<int> requests_{0};

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST(ExternalEmbedder, EmbedsNodesAndQueriesAndKeepsFailedNodesPending) {
  FakeEmbeddingServer server;
  testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Database> db, Database::Open(dir.path()));
  for (const auto& [id, text] : std::vector<std::pair<std::string, std::string>>{
           {"bread", "bake bread in the oven"}, {"login", "login needs a token"}}) {
    NewNode n;
    n.id = id;
    n.content = text;
    ASSERT_TRUE(db->Create(n).ok());
  }
  ExternalEmbedderOptions o;
  o.base_url = server.url();
  o.model = "fake";
  o.max_attempts = 1;
  ASSERT_OK_AND_ASSIGN(EmbedReport first, db->UseExternalEmbedder(o));
  EXPECT_EQ(first.embedded, 2);
  ASSERT_OK_AND_ASSIGN(Node bread, db->Get("bread"));
  EXPECT_EQ(bread.embedding.size(), 3u);

  VectorSearchOptions q;
  q.text = "which server issues the token";
  q.k = 1;
  ASSERT_OK_AND_ASSIGN(VectorSearchResult r, db->SearchVector(q));
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_EQ(r.hits[0].node.id, "login");

  // The server fails: the new node is stored without a vector and stays
  // pending; the error names the server.
  server.failing_ = true;
  NewNode soup;
  soup.id = "soup";
  soup.content = "soup and bread";
  ASSERT_TRUE(db->Create(soup).ok());
  auto failed = db->EmbedPending();
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("127.0.0.1"), std::string::npos)
      << failed.status().message();
  ASSERT_OK_AND_ASSIGN(Node pending, db->Get("soup"));
  EXPECT_TRUE(pending.embedding.empty());

  // Back up: the pending node gets its vector, nothing else is re-sent.
  server.failing_ = false;
  const int before = server.requests_;
  ASSERT_OK_AND_ASSIGN(EmbedReport retried, db->EmbedPending());
  EXPECT_EQ(retried.embedded, 1);
  EXPECT_EQ(server.requests_ - before, 1);
  ASSERT_OK_AND_ASSIGN(Node embedded, db->Get("soup"));
  EXPECT_EQ(embedded.embedding.size(), 3u);

  // The configuration survives reopening.
  db.reset();
  ASSERT_OK_AND_ASSIGN(db, Database::Open(dir.path()));
  q.text = "oven";
  ASSERT_OK_AND_ASSIGN(r, db->SearchVector(q));
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_NE(r.hits[0].node.id, "login");
}

TEST(ExternalEmbedder, RefusesToMixWithOtherVectors) {
  FakeEmbeddingServer server;
  testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Database> db, Database::Open(dir.path()));
  NewNode n;
  n.content = "has a caller vector";
  n.embedding = {1, 2, 3, 4};
  ASSERT_TRUE(db->Create(n).ok());
  ExternalEmbedderOptions o;
  o.base_url = server.url();
  o.model = "fake";
  auto r = db->UseExternalEmbedder(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server.requests_, 0);
}

}  // namespace
}  // namespace nodespace
