// The dedicated vector service: the wire format, a service run in-process
// and searched through RemoteVectorStore (same answers as the in-process
// index, catch-up to the caller's snapshot, errors), and the supervisor
// running the real `nodespace vector-service`, killed and restarted.
#include "service/vector_service.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "db/vector_index_store.h"
#include "env/env.h"
#include "nodespace/database.h"
#include "service/remote_vector_store.h"
#include "service/vector_service_protocol.h"
#include "service/vector_service_supervisor.h"
#include "storage/sqlite.h"
#include "test_util.h"

namespace nodespace::service {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kDims = 16;
// Generous: a loaded CI machine may take seconds to start a process. The
// tests poll up to it and never assert on how long anything took.
constexpr auto kDeadline = std::chrono::seconds(30);

std::vector<float> RandomVector(std::mt19937& rng) {
  std::normal_distribution<float> g;
  std::vector<float> v(kDims);
  for (float& x : v) x = g(rng);
  return v;
}

// Polls `done` until it holds or kDeadline passes; returns whether it held.
template <typename Pred>
bool Eventually(Pred done) {
  const auto deadline = Clock::now() + kDeadline;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

// A vector service on a thread of this process, stopped by the destructor.
class InProcessService {
 public:
  explicit InProcessService(const std::string& db_dir, int min_seq_wait_ms = 1000,
                            int64_t memory_budget_mb = 0, VectorStoreFactory make_store = nullptr) {
    options_.db_dir = db_dir;
    options_.memory_budget_mb = memory_budget_mb;
    options_.make_store = std::move(make_store);
    options_.port_file = db_dir + "/test-service.port";
    options_.stop = &stop_;
    options_.min_seq_wait_ms = min_seq_wait_ms;
    options_.options.read_only = true;  // leave no index file behind
    options_.options.info_log = [](std::string_view) {};
    std::promise<int> listening;
    std::future<int> port = listening.get_future();
    options_.on_listening = [&listening](int p) { listening.set_value(p); };
    thread_ = std::thread([this] {
      result_ = RunVectorService(options_);
      if (!result_.ok()) stop_ = true;
    });
    // The service either listens or fails (and then the test fails below).
    while (port.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready) {
      if (stop_.load()) break;
    }
    if (port.valid() && port.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      port_ = port.get();
    }
  }
  ~InProcessService() { (void)Stop(); }

  Status Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return result_;
  }
  int port() const { return port_; }
  const std::string& port_file() const { return options_.port_file; }

 private:
  VectorServiceOptions options_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Status result_;
  int port_ = 0;
};

class VectorServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    options.info_log = [](std::string_view) {};
    auto db = Database::Open(dir_.path(), options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto conn = storage::Connection::Open(dir_.Sub("nodespace.db"), /*read_only=*/true, false);
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::move(*conn);
    local_options_.read_only = true;
    local_options_.info_log = [](std::string_view) {};
    local_ = std::make_unique<VectorIndexStore>(dir_.path(), local_options_);
  }

  // Nodes "v<first>".."v<first+n-1>" with random vectors.
  void Fill(int first, int n) {
    WriteBatch batch;
    for (int i = first; i < first + n; ++i) {
      NewNode node;
      node.id = "v" + std::to_string(i);
      node.content = "node " + std::to_string(i);
      node.embedding = RandomVector(rng_);
      batch.Create(std::move(node));
    }
    auto r = db_->Write(batch);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  int64_t RowOf(const std::string& id) {
    auto row = conn_->QueryInt("SELECT rowid FROM nodes WHERE id = '" + id + "'");
    EXPECT_TRUE(row.ok()) << row.status().ToString();
    return row.ok() ? *row : -1;
  }

  // Compares `remote`'s answers with the in-process index's for `queries`
  // (one snapshot each), filtered by `allowed` when given.
  void ExpectSameAnswers(VectorStore& remote, const std::vector<std::vector<float>>& queries,
                         const std::vector<int64_t>* allowed = nullptr) {
    for (const std::vector<float>& v : queries) {
      VectorQuery q;
      q.vector = v;
      q.k = 10;
      q.allowed = allowed;
      ASSERT_OK(conn_->Exec("BEGIN"));
      Result<VectorAnswer> want = local_->Search(*conn_, q);
      Result<VectorAnswer> got = remote.Search(*conn_, q);
      ASSERT_OK(conn_->Exec("COMMIT"));
      ASSERT_TRUE(want.ok()) << want.status().ToString();
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_EQ(got->plan, want->plan);
      EXPECT_EQ(got->index_size, want->index_size);
      EXPECT_EQ(got->result.stats.distances_computed, want->result.stats.distances_computed);
      ASSERT_EQ(got->result.neighbors.size(), want->result.neighbors.size());
      for (size_t i = 0; i < want->result.neighbors.size(); ++i) {
        EXPECT_EQ(got->result.neighbors[i].label, want->result.neighbors[i].label) << i;
        EXPECT_FLOAT_EQ(got->result.neighbors[i].distance, want->result.neighbors[i].distance);
        if (allowed != nullptr) {
          EXPECT_TRUE(
              std::binary_search(allowed->begin(), allowed->end(), got->result.neighbors[i].label));
        }
      }
    }
  }

  std::vector<std::vector<float>> Queries(int n) {
    std::vector<std::vector<float>> out;
    for (int i = 0; i < n; ++i) out.push_back(RandomVector(rng_));
    return out;
  }

  testing::TempDir dir_;
  std::mt19937 rng_{11};
  std::unique_ptr<Database> db_;
  std::unique_ptr<storage::Connection> conn_;  // the "engine's" snapshot
  Options local_options_;
  std::unique_ptr<VectorIndexStore> local_;  // the in-process answer
};

// ---- wire format ------------------------------------------------------------

TEST(VectorServiceProtocol, RequestRoundTrips) {
  const std::vector<float> v = {0.5f, -1.25f, 3.0f};
  const std::vector<int64_t> allowed = {2, 7, 40};
  VectorQuery q;
  q.vector = v;
  q.k = 7;
  q.ef = 99;
  q.exact = true;
  q.codes_only = true;
  q.allowed = &allowed;
  q.created_min = -5;
  q.created_max = 1234567890123;
  ASSERT_OK_AND_ASSIGN(SearchRequest r, DecodeSearchRequest(EncodeSearchRequest(q, 42)));
  EXPECT_EQ(r.vector, v);
  ASSERT_TRUE(r.allowed.has_value());
  EXPECT_EQ(*r.allowed, allowed);
  EXPECT_EQ(r.k, 7u);
  EXPECT_EQ(r.ef, 99u);
  EXPECT_TRUE(r.exact);
  EXPECT_TRUE(r.codes_only);
  EXPECT_TRUE(r.Query().codes_only);
  EXPECT_EQ(r.min_seq, 42);
  EXPECT_EQ(r.created_min, -5);
  EXPECT_EQ(r.created_max, 1234567890123);

  q.allowed = nullptr;
  q.codes_only = false;
  q.created_min.reset();
  q.created_max.reset();
  ASSERT_OK_AND_ASSIGN(SearchRequest unfiltered, DecodeSearchRequest(EncodeSearchRequest(q, 0)));
  EXPECT_FALSE(unfiltered.allowed.has_value());
  EXPECT_FALSE(unfiltered.codes_only);
  EXPECT_FALSE(unfiltered.created_min.has_value());

  // An empty filter is a filter that allows nothing, not the absence of one.
  const std::vector<int64_t> none;
  q.allowed = &none;
  ASSERT_OK_AND_ASSIGN(SearchRequest empty, DecodeSearchRequest(EncodeSearchRequest(q, 0)));
  ASSERT_TRUE(empty.allowed.has_value());
  EXPECT_TRUE(empty.allowed->empty());
}

TEST(VectorServiceProtocol, ReplyRoundTrips) {
  SearchReply reply;
  reply.answer.result.neighbors = {{5, 0.125f}, {9, std::numeric_limits<float>::quiet_NaN()}};
  reply.answer.result.stats.distances_computed = 300;
  reply.answer.result.stats.nodes_visited = 17;
  reply.answer.result.stats.ef_used = 64;
  reply.answer.result.stats.exact = true;
  reply.answer.result.stats.code_distances = true;
  reply.answer.plan = "graph_filtered";
  reply.answer.index_size = 1000;
  reply.answer.partitions_searched = 3;
  reply.answer.partitions_pruned = 2;
  reply.applied_seq = 77;
  ASSERT_OK_AND_ASSIGN(SearchReply back, DecodeSearchReply(EncodeSearchReply(reply)));
  ASSERT_EQ(back.answer.result.neighbors.size(), 2u);
  EXPECT_EQ(back.answer.result.neighbors[0].label, 5);
  EXPECT_EQ(back.answer.result.neighbors[0].distance, 0.125f);
  EXPECT_TRUE(std::isnan(back.answer.result.neighbors[1].distance));  // JSON null
  EXPECT_EQ(back.answer.result.stats.distances_computed, 300u);
  EXPECT_EQ(back.answer.result.stats.nodes_visited, 17u);
  EXPECT_EQ(back.answer.result.stats.ef_used, 64u);
  EXPECT_TRUE(back.answer.result.stats.exact);
  EXPECT_TRUE(back.answer.result.stats.code_distances);
  EXPECT_EQ(back.answer.plan, "graph_filtered");
  EXPECT_EQ(back.answer.index_size, 1000);
  EXPECT_EQ(back.answer.partitions_searched, 3);
  EXPECT_EQ(back.answer.partitions_pruned, 2);
  EXPECT_EQ(back.applied_seq, 77);

  EXPECT_FALSE(DecodeSearchReply("[]").ok());
  EXPECT_FALSE(DecodeSearchReply(R"({"neighbors":[[1]],"plan":"exact"})").ok());
  EXPECT_FALSE(DecodeSearchReply(R"({"neighbors":[],"plan":"exact","index_size":"x"})").ok());
}

// ---- a service in this process --------------------------------------------

TEST_F(VectorServiceTest, RemoteAnswersMatchTheInProcessIndex) {
  Fill(0, 300);
  InProcessService service(dir_.path());
  ASSERT_GT(service.port(), 0) << service.Stop().ToString();
  // The port file names the port, whole.
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> text, Env::Default()->ReadFile(service.port_file()));
  EXPECT_EQ(std::string(text.begin(), text.end()), std::to_string(service.port()) + "\n");

  RemoteVectorStore remote({.port = service.port()});
  const std::vector<std::vector<float>> queries = Queries(8);
  ExpectSameAnswers(remote, queries);

  // A filter: every third node, and one that allows a single row.
  std::vector<int64_t> allowed;
  for (int i = 0; i < 300; i += 3) allowed.push_back(RowOf("v" + std::to_string(i)));
  std::sort(allowed.begin(), allowed.end());
  ExpectSameAnswers(remote, queries, &allowed);
  const std::vector<int64_t> one = {RowOf("v42")};
  ExpectSameAnswers(remote, queries, &one);

  ASSERT_OK_AND_ASSIGN(VectorServiceHealth health, remote.Health());
  EXPECT_EQ(health.pid, ::getpid());
  ASSERT_OK_AND_ASSIGN(int64_t last_seq, conn_->QueryInt("SELECT max(seq) FROM changes"));
  EXPECT_EQ(health.applied_seq, last_seq);

  // Searches from several threads at once, each with its own snapshot.
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      auto conn = storage::Connection::Open(dir_.Sub("nodespace.db"), true, false);
      if (!conn.ok()) {
        ++failures;
        return;
      }
      for (int i = 0; i < 20; ++i) {
        VectorQuery q;
        q.vector = queries[static_cast<size_t>(t + i) % queries.size()];
        Result<VectorAnswer> a = remote.Search(**conn, q);
        if (!a.ok() || a->result.neighbors.size() != 10) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);

  EXPECT_OK(service.Stop());
  EXPECT_FALSE(Env::Default()->FileExists(service.port_file())) << "a clean stop removes it";
}

TEST_F(VectorServiceTest, WritesAfterTheServiceStartedAreInTheNextAnswer) {
  Fill(0, 200);
  InProcessService service(dir_.path());
  ASSERT_GT(service.port(), 0) << service.Stop().ToString();
  RemoteVectorStore remote({.port = service.port()});
  ExpectSameAnswers(remote, Queries(2));  // the service has loaded its index

  // A new node whose vector is the query: the nearest there can be.
  const std::vector<float> target = RandomVector(rng_);
  NewNode node;
  node.id = "fresh";
  node.content = "written after the service started";
  node.embedding = target;
  ASSERT_TRUE(db_->Create(node).ok());
  VectorQuery q;
  q.vector = target;
  q.k = 3;
  ASSERT_OK_AND_ASSIGN(VectorAnswer answer, remote.Search(*conn_, q));
  ASSERT_FALSE(answer.result.neighbors.empty());
  EXPECT_EQ(answer.result.neighbors[0].label, RowOf("fresh"));
  EXPECT_EQ(answer.index_size, 201);

  // And a deletion.
  const int64_t row = RowOf("fresh");
  ASSERT_TRUE(db_->Delete("fresh").ok());
  ASSERT_OK_AND_ASSIGN(answer, remote.Search(*conn_, q));
  for (const vector::Neighbor& n : answer.result.neighbors) EXPECT_NE(n.label, row);
  EXPECT_EQ(answer.index_size, 200);
  ExpectSameAnswers(remote, Queries(4));
}

TEST_F(VectorServiceTest, ASnapshotAheadOfTheServiceGets503) {
  Fill(0, 20);
  InProcessService service(dir_.path(), /*min_seq_wait_ms=*/50);
  ASSERT_GT(service.port(), 0) << service.Stop().ToString();
  RemoteVectorStore remote({.port = service.port()});
  const std::vector<float> v = RandomVector(rng_);
  VectorQuery q;
  q.vector = v;
  ASSERT_OK_AND_ASSIGN(int64_t last_seq, conn_->QueryInt("SELECT max(seq) FROM changes"));
  // A change the database never reaches: as if the service read another copy.
  Result<SearchReply> reply = remote.SearchAt(q, last_seq + 1000);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kIOError);
  EXPECT_NE(reply.status().message().find("503"), std::string::npos) << reply.status().message();
  EXPECT_NE(reply.status().message().find("needs change"), std::string::npos)
      << reply.status().message();
  ASSERT_OK_AND_ASSIGN(SearchReply ok, remote.SearchAt(q, last_seq));
  EXPECT_EQ(ok.applied_seq, last_seq);
}

// A store that counts the releases the service asks of it.
class CountingReleases : public VectorIndexStore {
 public:
  CountingReleases(const std::string& dir, const Options& options,
                   std::shared_ptr<std::atomic<int>> releases)
      : VectorIndexStore(dir, options), releases_(std::move(releases)) {}
  Status ReleaseMemory() override {
    ++*releases_;
    return VectorIndexStore::ReleaseMemory();
  }

 private:
  std::shared_ptr<std::atomic<int>> releases_;
};

// Over its memory budget (1 MB: any process is) the service has its store
// serve the indexes from their files once the engine stops writing (each
// release saves the graph); without a budget it never asks.
TEST_F(VectorServiceTest, OverItsMemoryBudgetTheStoreReleasesWhatItCanReadAgain) {
  Fill(0, 50);
  int next = 50;
  for (int64_t budget_mb : {0, 1}) {
    auto releases = std::make_shared<std::atomic<int>>(0);
    InProcessService service(
        dir_.path(), 1000, budget_mb,
        [releases](const std::string& dir, const Options& o) -> std::unique_ptr<VectorStore> {
          return std::make_unique<CountingReleases>(dir, o, releases);
        });
    ASSERT_GT(service.port(), 0);
    httplib::Client c("127.0.0.1", service.port());
    auto health = c.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(nlohmann::json::parse(health->body)["settings"]["memory_budget_mb"], budget_mb);
    if (budget_mb == 0) {
      // The catch-up loop ran (the service answered), and asked nothing.
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
      EXPECT_EQ(releases->load(), 0);
    } else {
      // A node every 50 ms: each catch-up pass (every 250 ms) finds new ones.
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
      while (std::chrono::steady_clock::now() < until) {
        Fill(next++, 1);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      EXPECT_EQ(releases->load(), 0);
      EXPECT_TRUE(Eventually([&] { return releases->load() > 0; }));
    }
    ASSERT_OK(service.Stop());
  }
}

// The engine's tier changes reach a running service as a new budget, not a
// restart: from its next memory check on it releases over the new one.
TEST_F(VectorServiceTest, ARunningServiceTakesANewMemoryBudget) {
  Fill(0, 50);
  auto releases = std::make_shared<std::atomic<int>>(0);
  InProcessService service(
      dir_.path(), 1000, /*memory_budget_mb=*/0,
      [releases](const std::string& dir, const Options& o) -> std::unique_ptr<VectorStore> {
        return std::make_unique<CountingReleases>(dir, o, releases);
      });
  ASSERT_GT(service.port(), 0) << service.Stop().ToString();
  httplib::Client c("127.0.0.1", service.port());
  for (const char* bad : {"{}", "nope", R"({"memory_budget_mb": -1})",
                          R"({"memory_budget_mb": "1"})", R"({"memory_budget_mb": 1.5})"}) {
    auto res = c.Post("/settings", bad, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << bad;
    EXPECT_NE(res->body.find("memory_budget_mb"), std::string::npos) << res->body;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(releases->load(), 0) << "no budget yet";

  RemoteVectorStore client({.port = service.port()});
  ASSERT_OK(client.SetMemoryBudget(1));  // any process is over 1 MB
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(nlohmann::json::parse(health->body)["settings"]["memory_budget_mb"], 1);
  EXPECT_TRUE(Eventually([&] { return releases->load() > 0; }));
  ASSERT_OK(client.SetMemoryBudget(0));
  health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(nlohmann::json::parse(health->body)["settings"]["memory_budget_mb"], 0);
}

// A service the supervisor restarts (after a crash) starts with the budget
// set since, not the one it was first given.
TEST_F(VectorServiceTest, ARestartedServiceKeepsTheBudgetSetSinceTheFirstStart) {
  Fill(0, 20);
  VectorServiceSupervisorOptions options;
  options.binary = NODESPACE_BIN;
  options.db_dir = dir_.path();
  options.log = [](std::string_view) {};
  options.restart_backoff_ms = 100;
  options.service_args = {"--memory-budget-mb", "50"};
  VectorServiceSupervisor supervisor(options);
  ASSERT_OK(supervisor.Start());
  auto budget = [&]() -> int64_t {
    httplib::Client c("127.0.0.1", supervisor.state().port);
    auto health = c.Get("/health");
    if (!health || health->status != 200) return -1;
    return nlohmann::json::parse(health->body)["settings"]["memory_budget_mb"].get<int64_t>();
  };
  EXPECT_EQ(budget(), 50);
  ASSERT_OK(supervisor.SetMemoryBudget(200));
  EXPECT_EQ(budget(), 200);
  EXPECT_EQ(supervisor.SetMemoryBudget(-1).code(), StatusCode::kInvalidArgument);

  const auto first = supervisor.state().pid;
  ASSERT_EQ(::kill(static_cast<pid_t>(first), SIGKILL), 0);
  ASSERT_TRUE(Eventually([&] {
    return supervisor.state().restarts == 1 && supervisor.client() != nullptr;
  })) << supervisor.state().last_error;
  EXPECT_NE(supervisor.state().pid, first);
  EXPECT_EQ(budget(), 200);
  supervisor.Stop();
  EXPECT_EQ(supervisor.SetMemoryBudget(100).code(), StatusCode::kIOError) << "none running";
}

TEST_F(VectorServiceTest, NoServiceIsAnIOErrorNamingIt) {
  // A port nobody listens on: bound and released by us just now.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  const int port = ntohs(addr.sin_port);

  Fill(0, 5);
  RemoteVectorStore remote({.port = port});
  const std::vector<float> v = RandomVector(rng_);
  VectorQuery q;
  q.vector = v;
  Result<VectorAnswer> a = remote.Search(*conn_, q);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kIOError);
  EXPECT_NE(a.status().message().find("vector service at 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << a.status().message();
}

// Sends `head` (request line and headers, no body) on a raw socket and
// returns the status code of the answer, or -1.
int RawStatus(int port, const std::string& head) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int status = -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size())) {
    char buf[256] = {};
    const ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
    int code = 0;
    if (n > 0 && std::sscanf(buf, "HTTP/1.%*d %d", &code) == 1) status = code;
  }
  ::close(fd);
  return status;
}

TEST_F(VectorServiceTest, MalformedRequestsGet400) {
  Fill(0, 30);
  InProcessService service(dir_.path());
  ASSERT_GT(service.port(), 0) << service.Stop().ToString();
  httplib::Client client("127.0.0.1", service.port());

  const std::vector<float> v(kDims, 0.5f);
  VectorQuery q;
  q.vector = v;
  const std::string good = EncodeSearchRequest(q, 0);
  auto with_header = [](const std::string& header, size_t payload_bytes) {
    std::string body(4, '\0');
    const auto len = static_cast<uint32_t>(header.size());
    std::memcpy(body.data(), &len, 4);
    return body + header + std::string(payload_bytes, '\0');
  };
  const std::vector<int64_t> unsorted_rows = {5, 3};
  VectorQuery unsorted = q;
  unsorted.allowed = &unsorted_rows;
  const std::vector<float> short_vector(3, 1.0f);
  VectorQuery wrong_dims;
  wrong_dims.vector = short_vector;

  struct Case {
    const char* name;
    std::string body;
  };
  const std::vector<Case> cases = {
      {"empty body", ""},
      {"shorter than the length", "ab"},
      {"header length past the end", std::string("\xff\xff\x00\x00", 4) + "{}"},
      {"header length over the limit", std::string("\xff\xff\xff\xff", 4)},
      {"header not JSON", with_header("{not json", 0)},
      {"header not an object", with_header("[1,2]", 0)},
      {"no k", with_header(R"({"min_seq":0,"dim":16})", 64)},
      {"k zero", with_header(R"({"k":0,"min_seq":0,"dim":16})", 64)},
      {"k a string", with_header(R"({"k":"10","min_seq":0,"dim":16})", 64)},
      {"k huge", with_header(R"({"k":18446744073709551615,"min_seq":0,"dim":16})", 64)},
      {"negative min_seq", with_header(R"({"k":1,"min_seq":-1,"dim":16})", 64)},
      {"exact not a boolean", with_header(R"({"k":1,"min_seq":0,"dim":16,"exact":1})", 64)},
      {"codes_only not a boolean",
       with_header(R"({"k":1,"min_seq":0,"dim":16,"codes_only":"yes"})", 64)},
      {"vector shorter than dim", with_header(R"({"k":1,"min_seq":0,"dim":16})", 60)},
      {"bytes after the vector", good + "x"},
      {"rowids missing", with_header(R"({"k":1,"min_seq":0,"dim":16,"allowed_count":2})", 64)},
      {"rowids out of order", EncodeSearchRequest(unsorted, 0)},
      {"dimension the database does not use", EncodeSearchRequest(wrong_dims, 0)},
  };
  for (const Case& c : cases) {
    httplib::Result res = client.Post("/search", c.body, "application/octet-stream");
    ASSERT_TRUE(res) << c.name << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 400) << c.name << ": " << res->body;
    const auto j = nlohmann::json::parse(res->body, nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("error") && j["error"].is_string() &&
                !j["error"].get<std::string>().empty())
        << c.name << ": " << res->body;
  }

  // A body over the limit is refused from its Content-Length (after httplib
  // waited for the body it skips, up to its 5 s read timeout).
  EXPECT_EQ(RawStatus(service.port(),
                      "POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                      "application/octet-stream\r\nContent-Length: 99999999999\r\n\r\n"),
            400);
  // Unknown endpoints say which exist.
  httplib::Result missing = client.Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("POST /search"), std::string::npos) << missing->body;

  // None of it hurt the service.
  httplib::Result ok = client.Post("/search", good, "application/octet-stream");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  ASSERT_OK_AND_ASSIGN(SearchReply reply, DecodeSearchReply(ok->body));
  EXPECT_EQ(reply.answer.result.neighbors.size(), 10u);
}

TEST_F(VectorServiceTest, RefusesAMissingDatabase) {
  VectorServiceOptions options;
  options.db_dir = dir_.Sub("nothing-here");
  Status st = RunVectorService(options);
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();
}

// ---- the supervisor and the real program ------------------------------------

TEST_F(VectorServiceTest, SupervisorRestartsAKilledServiceAndLosesNothing) {
  Fill(0, 300);
  std::mutex log_mu;
  std::vector<std::string> log;
  VectorServiceSupervisorOptions options;
  options.binary = NODESPACE_BIN;
  options.db_dir = dir_.path();
  options.log = [&](std::string_view line) {
    std::lock_guard lock(log_mu);
    log.emplace_back(line);
  };
  // Long enough that the test sees the service down before it is back.
  options.restart_backoff_ms = 1000;
  options.stop_timeout_ms = 60000;  // so that a clean stop is never cut short
  VectorServiceSupervisor supervisor(options);
  ASSERT_OK(supervisor.Start());
  EXPECT_TRUE(Env::Default()->FileExists(supervisor.port_file()));
  const VectorServiceSupervisor::State first = supervisor.state();
  EXPECT_TRUE(first.running);
  EXPECT_TRUE(first.healthy);
  EXPECT_GT(first.pid, 0);
  EXPECT_GT(first.port, 0);
  EXPECT_EQ(first.restarts, 0);

  RemoteVectorStore* remote = supervisor.client();
  ASSERT_NE(remote, nullptr);
  const std::vector<std::vector<float>> queries = Queries(6);
  ExpectSameAnswers(*remote, queries);

  ASSERT_EQ(::kill(first.pid, SIGKILL), 0);
  bool saw_null = false;
  bool saw_failure = false;
  const bool restarted = Eventually([&] {
    if (supervisor.client() == nullptr) saw_null = true;
    VectorQuery q;
    q.vector = queries[0];
    Result<VectorAnswer> a = remote->Search(*conn_, q);
    if (!a.ok()) {
      saw_failure = true;
      EXPECT_EQ(a.status().code(), StatusCode::kIOError) << a.status().ToString();
    }
    return supervisor.state().restarts == 1 && supervisor.client() != nullptr;
  });
  ASSERT_TRUE(restarted) << "last error: " << supervisor.state().last_error;
  EXPECT_TRUE(saw_null);
  EXPECT_TRUE(saw_failure);
  const VectorServiceSupervisor::State second = supervisor.state();
  EXPECT_NE(second.pid, first.pid);
  EXPECT_TRUE(second.healthy);
  {
    std::lock_guard lock(log_mu);
    const std::string want =
        "vector service (pid " + std::to_string(first.pid) + ") exited with signal 9";
    EXPECT_TRUE(
        std::any_of(log.begin(), log.end(),
                    [&](const std::string& l) { return l.find(want) != std::string::npos; }))
        << "no line saying " << want;
  }

  // Every vector is still there, and a write made after the restart too.
  ASSERT_EQ(supervisor.client(), remote) << "one client object for the supervisor's life";
  ExpectSameAnswers(*remote, queries);
  Fill(300, 10);
  ExpectSameAnswers(*remote, queries);
  VectorQuery q;
  q.vector = queries[1];
  ASSERT_OK_AND_ASSIGN(VectorAnswer answer, remote->Search(*conn_, q));
  EXPECT_EQ(answer.index_size, 310);

  supervisor.Stop();
  {
    // SIGTERM made it shut down by itself (and save its index).
    std::lock_guard lock(log_mu);
    ASSERT_FALSE(log.empty());
    EXPECT_EQ(log.back(), "vector service (pid " + std::to_string(second.pid) +
                              ") stopped: exited with status 0");
  }
  EXPECT_FALSE(supervisor.state().running);
  EXPECT_EQ(supervisor.client(), nullptr);
  EXPECT_FALSE(Env::Default()->FileExists(supervisor.port_file()));
  EXPECT_EQ(::kill(second.pid, 0), -1) << "the service process is gone";
}

TEST_F(VectorServiceTest, SupervisorReportsAProgramThatCannotServe) {
  VectorServiceSupervisorOptions options;
  options.binary = NODESPACE_BIN;
  options.db_dir = dir_.Sub("no-database");  // the service exits at once
  options.log = [](std::string_view) {};
  VectorServiceSupervisor supervisor(options);
  Status st = supervisor.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("before it was ready"), std::string::npos) << st.ToString();
  EXPECT_FALSE(supervisor.state().running);
  EXPECT_EQ(supervisor.client(), nullptr);

  options.binary = dir_.Sub("not-a-program");
  VectorServiceSupervisor missing(options);
  EXPECT_TRUE(missing.Start().IsNotFound());
}

TEST(VectorServiceSupervisorBinary, FoundThroughTheEnvironmentOrGiven) {
  // Nothing called nodespace sits beside the test binary, so the variable
  // decides (unless PATH had one first, which is as good).
  const char* old = std::getenv("NODESPACE_BIN");
  const std::string saved = old != nullptr ? old : "";
  ::setenv("NODESPACE_BIN", NODESPACE_BIN, 1);
  Result<std::string> found = VectorServiceSupervisor::ResolveBinary("");
  if (old != nullptr) {
    ::setenv("NODESPACE_BIN", saved.c_str(), 1);
  } else {
    ::unsetenv("NODESPACE_BIN");
  }
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(::access(found->c_str(), X_OK), 0) << *found;

  ASSERT_OK_AND_ASSIGN(std::string given, VectorServiceSupervisor::ResolveBinary(NODESPACE_BIN));
  EXPECT_EQ(given, NODESPACE_BIN);
  EXPECT_TRUE(
      VectorServiceSupervisor::ResolveBinary("/nonexistent/nodespace").status().IsNotFound());
}

}  // namespace
}  // namespace nodespace::service
