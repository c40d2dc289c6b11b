#include "embed/http_embedder.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace nodespace::embed {
namespace {

using Handler = std::function<void(const httplib::Request&, httplib::Response&, int call)>;

// An embedding server on 127.0.0.1 that runs `handler` for every
// POST /v1/embeddings; `call` counts requests from 1.
class FakeServer {
 public:
  explicit FakeServer(Handler handler) : handler_(std::move(handler)) {
    server_.set_keep_alive_timeout(1);
    server_.Post("/v1/embeddings", [this](const httplib::Request& req, httplib::Response& res) {
      int call = ++calls_;
      {
        std::lock_guard<std::mutex> lock(mu_);
        bodies_.push_back(req.body);
        auth_.push_back(req.get_header_value("Authorization"));
      }
      handler_(req, res, call);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeServer() {
    server_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int calls() const { return calls_.load(); }
  std::vector<std::string> bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }
  std::vector<std::string> auth() {
    std::lock_guard<std::mutex> lock(mu_);
    return auth_;
  }

 private:
  Handler handler_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> calls_{0};
  std::mutex mu_;
  std::vector<std::string> bodies_;
  std::vector<std::string> auth_;
};

// The vector the fake server gives a text: {length, first byte, 1}.
std::vector<float> FakeVector(const std::string& text) {
  return {static_cast<float>(text.size()),
          static_cast<float>(text.empty() ? 0 : static_cast<unsigned char>(text[0])), 1.0f};
}

// Answers like a real server; `reverse` lists the items last index first.
void Answer(const httplib::Request& req, httplib::Response& res, bool reverse = false) {
  auto body = nlohmann::json::parse(req.body);
  nlohmann::json data = nlohmann::json::array();
  const auto& input = body["input"];
  for (size_t i = 0; i < input.size(); ++i) {
    data.push_back({{"object", "embedding"},
                    {"index", i},
                    {"embedding", FakeVector(input[i].get<std::string>())}});
  }
  if (reverse) std::reverse(data.begin(), data.end());
  nlohmann::json out = {{"object", "list"}, {"data", data}, {"model", body["model"]}};
  res.set_content(out.dump(), "application/json");
}

std::vector<std::string> Texts(int n) {
  std::vector<std::string> texts;
  for (int i = 0; i < n; ++i)
    texts.push_back(std::string(static_cast<size_t>(i + 1), static_cast<char>('a' + i)));
  return texts;
}

// Options for tests: no real sleeping, the requested delays are recorded.
struct Fixture {
  HttpEmbedderOptions options;
  std::shared_ptr<std::vector<int>> delays = std::make_shared<std::vector<int>>();
  explicit Fixture(const std::string& url) {
    options.base_url = url;
    options.model = "test-model";
    options.connect_timeout_ms = 1000;
    options.read_timeout_ms = 2000;
    auto d = delays;
    options.sleep = [d](int ms) { d->push_back(ms); };
  }
  std::unique_ptr<HttpEmbedder> Make() {
    auto e = HttpEmbedder::Create(options);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return std::move(*e);
  }
};

TEST(HttpEmbedder, EmbedsInBatches) {
  FakeServer server([](const auto& req, auto& res, int) { Answer(req, res); });
  Fixture f(server.url());
  f.options.batch_size = 4;
  f.options.api_key = "secret";
  auto embedder = f.Make();
  EXPECT_EQ(embedder->name(), "http:test-model");
  EXPECT_EQ(embedder->dims(), 0);

  std::vector<std::string> texts = Texts(10);
  auto vectors = embedder->Embed(texts);
  ASSERT_TRUE(vectors.ok()) << vectors.status().ToString();
  ASSERT_EQ(vectors->size(), 10u);
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ((*vectors)[i], FakeVector(texts[i])) << i;
  EXPECT_EQ(server.calls(), 3);  // 4 + 4 + 2
  EXPECT_EQ(embedder->requests_sent(), 3u);
  EXPECT_EQ(embedder->retries(), 0u);
  EXPECT_EQ(embedder->dims(), 3);  // learned from the first response

  auto first = nlohmann::json::parse(server.bodies()[0]);
  EXPECT_EQ(first["model"], "test-model");
  EXPECT_EQ(first["input"].size(), 4u);
  EXPECT_EQ(server.auth()[0], "Bearer secret");
}

TEST(HttpEmbedder, EmptyInputSendsNothing) {
  FakeServer server([](const auto& req, auto& res, int) { Answer(req, res); });
  Fixture f(server.url());
  auto vectors = f.Make()->Embed({});
  ASSERT_TRUE(vectors.ok());
  EXPECT_TRUE(vectors->empty());
  EXPECT_EQ(server.calls(), 0);
}

TEST(HttpEmbedder, PlacesOutOfOrderDataByIndex) {
  FakeServer server([](const auto& req, auto& res, int) { Answer(req, res, /*reverse=*/true); });
  Fixture f(server.url());
  std::vector<std::string> texts = Texts(5);
  auto vectors = f.Make()->Embed(texts);
  ASSERT_TRUE(vectors.ok()) << vectors.status().ToString();
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ((*vectors)[i], FakeVector(texts[i])) << i;
}

TEST(HttpEmbedder, RetriesAfterServerError) {
  FakeServer server([](const auto& req, auto& res, int call) {
    if (call == 1) {
      res.status = 500;
      res.set_content("model loading", "text/plain");
      return;
    }
    Answer(req, res);
  });
  Fixture f(server.url());
  f.options.initial_backoff_ms = 100;
  auto embedder = f.Make();
  auto vectors = embedder->Embed(Texts(2));
  ASSERT_TRUE(vectors.ok()) << vectors.status().ToString();
  EXPECT_EQ(server.calls(), 2);
  EXPECT_EQ(embedder->retries(), 1u);
  ASSERT_EQ(f.delays->size(), 1u);
  EXPECT_GE((*f.delays)[0], 50);  // equal jitter: within [backoff/2, backoff]
  EXPECT_LE((*f.delays)[0], 100);
}

TEST(HttpEmbedder, ServerErrorsUntilAttemptsRunOut) {
  FakeServer server([](const auto&, auto& res, int) {
    res.status = 503;
    res.set_content("overloaded", "text/plain");
  });
  Fixture f(server.url());
  f.options.initial_backoff_ms = 100;
  f.options.max_backoff_ms = 150;
  auto embedder = f.Make();
  auto vectors = embedder->Embed(Texts(1));
  EXPECT_EQ(vectors.status().code(), StatusCode::kIOError);
  EXPECT_EQ(vectors.status().message(), "embedder at " + server.url() +
                                            "/v1/embeddings unreachable after 3 attempts: HTTP "
                                            "503: overloaded");
  EXPECT_EQ(server.calls(), 3);
  ASSERT_EQ(f.delays->size(), 2u);
  EXPECT_LE((*f.delays)[1], 150);  // capped at max_backoff_ms
}

TEST(HttpEmbedder, HonoursRetryAfterOn429) {
  FakeServer server([](const auto& req, auto& res, int call) {
    if (call <= 2) {
      res.status = 429;
      res.set_header("Retry-After", call == 1 ? "2" : "60");
      res.set_content("slow down", "text/plain");
      return;
    }
    Answer(req, res);
  });
  Fixture f(server.url());
  f.options.max_retry_after_ms = 5000;
  auto embedder = f.Make();
  auto vectors = embedder->Embed(Texts(3));
  ASSERT_TRUE(vectors.ok()) << vectors.status().ToString();
  EXPECT_EQ(server.calls(), 3);
  EXPECT_EQ(*f.delays, (std::vector<int>{2000, 5000}));  // 60 s capped at 5 s
}

TEST(HttpEmbedder, PersistentRateLimitIsBusy) {
  FakeServer server([](const auto&, auto& res, int) { res.status = 429; });
  Fixture f(server.url());
  f.options.max_attempts = 2;
  auto vectors = f.Make()->Embed(Texts(1));
  EXPECT_EQ(vectors.status().code(), StatusCode::kBusy);
  EXPECT_NE(vectors.status().message().find("rate-limited after 2 attempts"), std::string::npos)
      << vectors.status().message();
  EXPECT_EQ(server.calls(), 2);
}

TEST(HttpEmbedder, ClientErrorIsNotRetried) {
  FakeServer server([](const auto&, auto& res, int) {
    res.status = 400;
    res.set_content(R"({"error":"model 'test-model' not found"})", "application/json");
  });
  Fixture f(server.url());
  auto embedder = f.Make();
  auto vectors = embedder->Embed(Texts(2));
  EXPECT_TRUE(vectors.status().IsInvalidArgument());
  EXPECT_EQ(vectors.status().message(),
            "embedder at " + server.url() +
                "/v1/embeddings rejected the request: HTTP 400: {\"error\":\"model 'test-model' "
                "not found\"}");
  EXPECT_EQ(server.calls(), 1);
  EXPECT_EQ(embedder->retries(), 0u);
}

TEST(HttpEmbedder, MalformedJsonIsAnError) {
  FakeServer server(
      [](const auto&, auto& res, int) { res.set_content("{\"data\": [oops", "application/json"); });
  Fixture f(server.url());
  auto vectors = f.Make()->Embed(Texts(1));
  EXPECT_EQ(vectors.status().code(), StatusCode::kIOError);
  EXPECT_NE(vectors.status().message().find("response is not valid JSON"), std::string::npos)
      << vectors.status().message();
  EXPECT_EQ(server.calls(), 1);
}

TEST(HttpEmbedder, WrongShapeIsAnError) {
  // {"data": ...} missing, wrong count, repeated index, zero vector.
  std::vector<std::string> replies = {
      R"({"object":"list"})",
      R"({"data":[{"index":0,"embedding":[1,2,3]}]})",
      R"({"data":[{"index":0,"embedding":[1,2,3]},{"index":0,"embedding":[1,2,3]}]})",
      R"({"data":[{"index":0,"embedding":[0,0,0]},{"index":1,"embedding":[1,2,3]}]})",
      R"({"data":[{"index":0,"embedding":[1,"x",3]},{"index":1,"embedding":[1,2,3]}]})",
  };
  std::vector<std::string> expected = {"no \"data\" array", "returned 1 vectors for 2 inputs",
                                       "out of range or repeated", "is the zero vector",
                                       "non-number"};
  for (size_t i = 0; i < replies.size(); ++i) {
    std::string reply = replies[i];
    FakeServer server(
        [reply](const auto&, auto& res, int) { res.set_content(reply, "application/json"); });
    Fixture f(server.url());
    auto vectors = f.Make()->Embed(Texts(2));
    EXPECT_EQ(vectors.status().code(), StatusCode::kIOError) << reply;
    EXPECT_NE(vectors.status().message().find(expected[i]), std::string::npos)
        << vectors.status().message();
  }
}

TEST(HttpEmbedder, WrongDimsAreAnError) {
  FakeServer server([](const auto& req, auto& res, int) { Answer(req, res); });
  Fixture f(server.url());
  f.options.dims = 768;
  auto embedder = f.Make();
  EXPECT_EQ(embedder->dims(), 768);
  auto vectors = embedder->Embed(Texts(2));
  EXPECT_TRUE(vectors.status().IsInvalidArgument());
  EXPECT_EQ(vectors.status().message(),
            "embedder at " + server.url() + "/v1/embeddings returned 3 dims, expected 768");
}

TEST(HttpEmbedder, LearnedDimsAreEnforced) {
  FakeServer server([](const auto& req, auto& res, int call) {
    if (call == 1) return Answer(req, res);
    res.set_content(R"({"data":[{"index":0,"embedding":[1,2,3,4]}]})", "application/json");
  });
  Fixture f(server.url());
  auto embedder = f.Make();
  ASSERT_TRUE(embedder->Embed(Texts(1)).ok());
  EXPECT_EQ(embedder->dims(), 3);
  auto second = embedder->Embed(Texts(1));
  EXPECT_NE(second.status().message().find("returned 4 dims, expected 3"), std::string::npos)
      << second.status().message();
}

TEST(HttpEmbedder, ReadTimeoutIsRetriedThenReported) {
  FakeServer server([](const auto& req, auto& res, int) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    Answer(req, res);
  });
  Fixture f(server.url());
  f.options.read_timeout_ms = 100;
  f.options.max_attempts = 2;
  auto embedder = f.Make();
  auto vectors = embedder->Embed(Texts(1));
  EXPECT_EQ(vectors.status().code(), StatusCode::kIOError);
  EXPECT_NE(vectors.status().message().find("unreachable after 2 attempts"), std::string::npos)
      << vectors.status().message();
  EXPECT_NE(vectors.status().message().find("timed out"), std::string::npos)
      << vectors.status().message();
  EXPECT_EQ(embedder->requests_sent(), 2u);
  EXPECT_EQ(embedder->retries(), 1u);
}

TEST(HttpEmbedder, ConnectionRefused) {
  // A port that was just free: bound, never listened on, closed.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  int port = ntohs(addr.sin_port);
  Fixture f("http://127.0.0.1:" + std::to_string(port));
  auto embedder = f.Make();
  auto vectors = embedder->Embed(Texts(1));
  EXPECT_EQ(vectors.status().code(), StatusCode::kIOError);
  EXPECT_EQ(vectors.status().message(),
            "embedder at http://127.0.0.1:" + std::to_string(port) +
                "/v1/embeddings unreachable after 3 attempts: Connection refused or host "
                "unreachable");
  EXPECT_EQ(embedder->retries(), 2u);
  EXPECT_EQ(f.delays->size(), 2u);
}

TEST(HttpEmbedder, PathPrefixAndBadOptions) {
  FakeServer server([](const auto& req, auto& res, int) { Answer(req, res); });
  HttpEmbedderOptions options;
  options.model = "m";
  options.base_url = server.url() + "/";
  auto ok = HttpEmbedder::Create(options);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)->endpoint(), server.url() + "/v1/embeddings");

  options.base_url = "http://127.0.0.1:1/api";
  EXPECT_EQ((*HttpEmbedder::Create(options))->endpoint(), "http://127.0.0.1:1/api/v1/embeddings");

  for (const char* bad :
       {"", "127.0.0.1:8080", "ftp://host", "http://", "http://host:99999", "http://host:x"}) {
    options.base_url = bad;
    EXPECT_TRUE(HttpEmbedder::Create(options).status().IsInvalidArgument()) << bad;
  }
  options.base_url = server.url();
  options.model = "";
  EXPECT_TRUE(HttpEmbedder::Create(options).status().IsInvalidArgument());
  options.model = "m";
  options.batch_size = 0;
  EXPECT_TRUE(HttpEmbedder::Create(options).status().IsInvalidArgument());
}

}  // namespace
}  // namespace nodespace::embed
