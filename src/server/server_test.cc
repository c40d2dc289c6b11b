// The HTTP server end to end over real loopback connections: API, errors,
// auth (generated from the route table), limits, feeds, MCP, OpenAPI.
#include "nodespace/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "archive_writer.h"
#include "server/api_keys.h"
#include "server/openapi.h"
#include "server/server_state.h"
#include "server/web_assets.h"
#include "test_util.h"

namespace nodespace::server {
namespace {

using nlohmann::json;

struct Answer {
  int status = 0;
  json body;
  std::string text;
  httplib::Headers headers;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class Client {
 public:
  Client(int port, std::string key = "")
      : http_("127.0.0.1", port), port_(port), key_(std::move(key)) {
    http_.set_read_timeout(30, 0);
  }
  Answer Send(const std::string& method, const std::string& path, const std::string& body = "",
              httplib::Headers headers = {}) {
    if (!key_.empty()) headers.emplace("Authorization", "Bearer " + key_);
    httplib::Result r = method == "GET"      ? http_.Get(path, headers)
                        : method == "DELETE" ? http_.Delete(path, headers, body, "application/json")
                        : method == "PATCH"  ? http_.Patch(path, headers, body, "application/json")
                        : method == "PUT"    ? http_.Put(path, headers, body, "application/json")
                                             : http_.Post(path, headers, body, "application/json");
    Answer a;
    if (!r) {
      a.status = -1;
      return a;
    }
    a.status = r->status;
    a.text = r->body;
    a.headers = r->headers;
    a.body = json::parse(r->body, nullptr, false);
    return a;
  }
  Answer Get(const std::string& path, httplib::Headers h = {}) { return Send("GET", path, "", h); }
  Answer Post(const std::string& path, const json& body, httplib::Headers h = {}) {
    return Send("POST", path, body.dump(), h);
  }
  // Reads a stream until `enough(text)` or the timeout; returns the status.
  int Stream(const std::string& path, const std::function<bool(const std::string&)>& enough,
             std::string* text, httplib::Headers headers = {}, int timeout_s = 10) {
    if (!key_.empty()) headers.emplace("Authorization", "Bearer " + key_);
    int status = 0;
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(timeout_s, 0);
    c.Get(
        path, headers,
        [&](const httplib::Response& r) {
          status = r.status;
          return r.status == 200;
        },
        [&](const char* data, size_t n) {
          text->append(data, n);
          return !enough(*text);
        });
    return status;
  }

 private:
  httplib::Client http_;
  int port_;
  std::string key_;
};

// Reads an event stream on its own thread until `done(text)` is true.
// Started() returns once the stream's first bytes arrived (the server
// has subscribed) or the stream ended; Finish() joins and returns the text.
class BackgroundStream {
 public:
  BackgroundStream(int port, std::string path, std::function<bool(const std::string&)> done,
                   std::string ready_marker = "")
      : thread_([this, port, path = std::move(path), done = std::move(done),
                 marker = std::move(ready_marker)] {
          Client c(port);
          c.Stream(
              path,
              [&](const std::string& t) {
                if (marker.empty() || t.find(marker) != std::string::npos) started_ = true;
                return done(t);
              },
              &text_);
          ended_ = true;
        }) {}
  ~BackgroundStream() {
    if (thread_.joinable()) thread_.join();
  }
  bool Started() {
    while (!started_ && !ended_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return started_;
  }
  std::string Finish() {
    thread_.join();
    return text_;
  }

 private:
  std::string text_;
  std::atomic<bool> started_{false}, ended_{false};
  std::thread thread_;
};

class ServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions o = {}) {
    o.database_path = dir_.Sub("db");
    o.port = 0;
    o.access_log_enabled = false;
    o.backup_dir = dir_.Sub("backups");
    o.info_log = [](std::string_view) {};
    o.database.info_log = o.info_log;
    options_ = o;
    auto s = Server::Start(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
  }
  Client Anon() { return Client(server_->port()); }
  std::string CreateNode(Client& c, const json& node) {
    Answer a = c.Post("/v1/nodes", node);
    EXPECT_EQ(a.status, 201) << a.text;
    return a.body.value("id", "");
  }

  nodespace::testing::TempDir dir_;
  ServerOptions options_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, CrudWithOptimisticConcurrency) {
  Start();
  Client c = Anon();
  const std::string root = CreateNode(c, {{"content", "# Projects"}});
  Answer got = c.Get("/v1/nodes/" + root);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body["title"], "Projects");
  EXPECT_EQ(got.header("ETag"), "\"1\"");

  Answer ok = c.Send("PATCH", "/v1/nodes/" + root, R"({"content":"# Projects 2026"})",
                     {{"If-Match", "\"1\""}});
  ASSERT_EQ(ok.status, 200) << ok.text;
  EXPECT_EQ(ok.body["version"], 2);
  // A writer that read version 1 is refused and shown the current node.
  Answer stale =
      c.Send("PATCH", "/v1/nodes/" + root, R"({"content":"# Old"})", {{"If-Match", "\"1\""}});
  ASSERT_EQ(stale.status, 409);
  EXPECT_EQ(stale.body["error"]["code"], "conflict");
  EXPECT_EQ(stale.body["error"]["details"]["current"]["version"], 2);
  EXPECT_EQ(stale.body["error"]["details"]["current"]["content"], "# Projects 2026");

  Answer del_stale = c.Send("DELETE", "/v1/nodes/" + root, "", {{"If-Match", "1"}});
  EXPECT_EQ(del_stale.status, 409);
  Answer del = c.Send("DELETE", "/v1/nodes/" + root, "", {{"If-Match", "2"}});
  ASSERT_EQ(del.status, 200);
  EXPECT_EQ(del.body["deleted"], 1);
  EXPECT_EQ(c.Get("/v1/nodes/" + root).status, 404);
}

TEST_F(ServerTest, BadInputGetsClearErrorsNeverInternals) {
  Start();
  Client c = Anon();
  struct Case {
    std::string method, path, body;
    int status;
    std::string code;
  } cases[] = {
      {"POST", "/v1/nodes", "{not json", 400, "bad_request"},
      {"POST", "/v1/nodes", R"({"parentId":"x"})", 400, "invalid_argument"},
      {"POST", "/v1/nodes", R"({"content": 5})", 400, "invalid_argument"},
      {"POST", "/v1/nodes", R"({"content":"x","parent_id":"missing"})", 404, "not_found"},
      {"GET", "/v1/nodes/does-not-exist", "", 404, "not_found"},
      {"PATCH", "/v1/nodes/does-not-exist", R"({"content":"x"})", 404, "not_found"},
      {"POST", "/v1/query",
       json({{"text",
              [] {
                std::string t;
                for (int i = 0; i < 10000; ++i) t += "w" + std::to_string(i) + " ";
                return t;
              }()}})
           .dump(),
       422, "invalid_argument"},
      {"POST", "/v1/query", R"({"limit": 100000})", 400, "invalid_argument"},
      {"POST", "/v1/query", R"({"filters":[{"field":"x","op":"~~","value":1}]})", 400,
       "invalid_argument"},
      {"POST", "/v1/nodes/batch", R"({"operations":[{"op":"explode"}]})", 400, "bad_request"},
      {"GET", "/v1/nodes/x/subtree?max_depth=abc", "", 400, "bad_request"},
      {"GET", "/v1/no/such/route", "", 404, "not_found"},
      {"PUT", "/v1/nodes/x", "{}", 405, "method_not_allowed"},
  };
  for (const Case& k : cases) {
    Answer a = c.Send(k.method, k.path, k.body);
    EXPECT_EQ(a.status, k.status) << k.method << " " << k.path << " " << k.body.substr(0, 80)
                                  << " -> " << a.text.substr(0, 300);
    ASSERT_TRUE(a.body.is_object()) << a.text;
    EXPECT_EQ(a.body["error"]["code"], k.code) << a.text;
    EXPECT_FALSE(a.body["error"]["message"].get<std::string>().empty());
    EXPECT_EQ(a.text.find("SELECT"), std::string::npos) << a.text;
    EXPECT_EQ(a.text.find("sqlite"), std::string::npos) << a.text;
  }
  // A filter nested deeper than the limit is refused.
  json deep = {{"field", "node_type"}, {"op", "=="}, {"value", "text"}};
  deep = {{"field", "node_type"}, {"op", "="}, {"value", "text"}};
  for (int i = 0; i < 40; ++i) deep = {{"not", deep}};
  Answer too_deep = c.Post("/v1/query", {{"filters", json::array({deep})}});
  EXPECT_EQ(too_deep.status, 400) << too_deep.text;
}

TEST_F(ServerTest, OversizedBodiesAreRefusedBeforeTheyAreRead) {
  ServerOptions o;
  o.max_body_bytes = 1024;
  o.max_batch_operations = 3;
  Start(o);
  // The server answers from the headers alone, before any body byte is
  // read: a client announcing a body over the limit gets 413 at once.
  auto status_for_length = [&](const std::string& length) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string head =
        "POST /v1/nodes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        length + "\r\n\r\n";
    EXPECT_EQ(::write(fd, head.data(), head.size()), static_cast<ssize_t>(head.size()));
    char buf[1024] = {};
    const ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    return n > 12 ? std::string(buf + 9, 3) : std::string("none");
  };
  EXPECT_EQ(status_for_length("4096"), "413");
  EXPECT_EQ(status_for_length("10000000000"), "413");
  // Within the limit the same route works.
  Client c = Anon();
  EXPECT_EQ(c.Post("/v1/nodes", {{"content", std::string(512, 'x')}}).status, 201);

  json ops = json::array();
  for (int i = 0; i < 4; ++i) ops.push_back({{"op", "create"}, {"node", {{"content", "n"}}}});
  EXPECT_EQ(c.Post("/v1/nodes/batch", {{"operations", ops}}).status, 413);
}

TEST_F(ServerTest, TreeOperationsAndBatches) {
  Start();
  Client c = Anon();
  const std::string root = CreateNode(c, {{"content", "# Root"}});
  json ops = json::array();
  for (const char* name : {"a", "b", "c"}) {
    ops.push_back(
        {{"op", "create"}, {"node", {{"id", name}, {"parent_id", root}, {"content", name}}}});
  }
  Answer batch = c.Post("/v1/nodes/batch", {{"operations", ops}});
  ASSERT_EQ(batch.status, 200) << batch.text;
  EXPECT_EQ(batch.body["failed"], 0);
  auto child_ids = [&](const std::string& parent) {
    std::vector<std::string> ids;
    Answer children = c.Get("/v1/nodes/" + parent + "/children");
    for (const auto& n : children.body["nodes"]) ids.push_back(n["id"]);
    return ids;
  };
  EXPECT_EQ(child_ids(root), (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(c.Post("/v1/nodes/c/reorder", {{"index", 0}}).status, 200);
  EXPECT_EQ(child_ids(root), (std::vector<std::string>{"c", "a", "b"}));
  ASSERT_EQ(c.Post("/v1/nodes/a/move", {{"parent_id", "b"}}).status, 200);
  EXPECT_EQ(child_ids("b"), (std::vector<std::string>{"a"}));
  Answer ancestors = c.Get("/v1/nodes/a/ancestors");
  ASSERT_EQ(ancestors.body["nodes"].size(), 2u);
  EXPECT_EQ(ancestors.body["nodes"][1]["id"], "b");
  // A cycle is refused with the engine's reason.
  Answer cycle = c.Post("/v1/nodes/b/move", {{"parent_id", "a"}});
  EXPECT_EQ(cycle.status, 422) << cycle.text;

  CreateNode(c, {{"id", "m"}, {"parent_id", root}, {"content", "see [[c]]"}});
  Answer back = c.Get("/v1/nodes/c/backlinks");
  ASSERT_EQ(back.body["nodes"].size(), 1u);
  EXPECT_EQ(back.body["nodes"][0]["id"], "m");

  Answer subtree = c.Get("/v1/nodes/" + root + "/subtree?max_depth=1");
  EXPECT_EQ(subtree.body["nodes"].size(), 4u);  // root, c, b, m
  // Non-atomic batch: the failing operation alone is reported.
  Answer mixed = c.Post("/v1/nodes/batch",
                        {{"atomic", false},
                         {"operations",
                          {{{"op", "update"}, {"id", "c"}, {"patch", {{"content", "C"}}}},
                           {{"op", "update"}, {"id", "zz"}, {"patch", {{"content", "Z"}}}}}}});
  ASSERT_EQ(mixed.status, 200) << mixed.text;
  EXPECT_EQ(mixed.body["failed"], 1);
  EXPECT_TRUE(mixed.body["results"][0]["ok"].get<bool>());
  EXPECT_EQ(mixed.body["results"][1]["status"], 404);
}

// Every route, every kind of caller: generated from the route table so a
// new route cannot skip its checks.
TEST_F(ServerTest, AuthMatrixFromTheRouteTable) {
  ServerOptions o;
  o.rate_limit_per_second = 0;
  Start(o);
  // Nodes to aim at: one inside the scoped key's subtree, one outside.
  std::string inside, outside;
  {
    Client c = Anon();  // no keys yet: loopback admin
    const std::string a = CreateNode(c, {{"content", "# Team A"}});
    const std::string b = CreateNode(c, {{"content", "# Team B"}});
    inside = CreateNode(c, {{"content", "in A"}, {"parent_id", a}});
    outside = CreateNode(c, {{"content", "in B"}, {"parent_id", b}});
    (void)inside;
  }
  ApiKeyStore store(options_.database_path + "/api-keys.json");
  const std::string read_key = *store.Create("r", Role::kRead, {});
  const std::string write_key = *store.Create("w", Role::kWrite, {});
  const std::string admin_key = *store.Create("a", Role::kAdmin, {});
  const std::string scoped_admin = *store.Create("s", Role::kAdmin, {inside});
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // key file reload

  nodespace::testing::TempDir scratch;
  ServerOptions so;
  so.database_path = scratch.Sub("db");
  ServerState state(so, std::move(Database::Open(so.database_path).value()));
  const std::vector<Route> routes = BuildRoutes(state);
  ASSERT_GT(routes.size(), 25u);

  auto path_of = [&](const Route& r) {
    std::string p = r.path;
    auto put = [&](const std::string& param, const std::string& v) {
      size_t at = p.find(param);
      if (at != std::string::npos) p.replace(at, param.size(), v);
    };
    put("{id}", outside);
    put("{action}", "EnableQueryCache");
    if (p.find("/v1/scaling/actions/") == 0) p += "?dry_run=true";
    return p;
  };
  auto status_of = [&](const Route& r, const std::string& key) {
    Client c(server_->port(), key);
    const std::string path = path_of(r);
    if (r.path == "/v1/changes" || r.path == "/v1/live") {
      std::string text;
      return c.Stream(
          path + (r.path == "/v1/live" ? "?q=%7B%7D" : ""), [](const std::string&) { return true; },
          &text);
    }
    // Requests that cannot do harm once past the checks: a stale If-Match
    // stops every write to the node, the restore names no backup.
    std::string body = "{}";
    if (r.path == "/v1/restore") body = R"({"name":"no-such-backup"})";
    return c.Send(r.method, path, body, {{"If-Match", "\"999\""}}).status;
  };
  for (const Route& r : routes) {
    SCOPED_TRACE(r.method + " " + r.path);
    if (r.public_route) {
      EXPECT_NE(status_of(r, ""), 401);
      continue;
    }
    EXPECT_EQ(status_of(r, ""), 401);
    EXPECT_EQ(status_of(r, "nsk_00000000_" + std::string(64, '0')), 401);
    const int as_read = status_of(r, read_key);
    if (r.role > Role::kRead) {
      EXPECT_EQ(as_read, 403);
    } else {
      EXPECT_NE(as_read, 401);
      EXPECT_NE(as_read, 403);
    }
    const int as_write = status_of(r, write_key);
    if (r.role > Role::kWrite) {
      EXPECT_EQ(as_write, 403);
    } else {
      EXPECT_NE(as_write, 403);
    }
    // A key scoped to another subtree: refused on nodes outside it and on
    // whole-database routes.
    if (r.scope == ScopeRule::kPathNode || r.scope == ScopeRule::kUnscoped) {
      EXPECT_EQ(status_of(r, scoped_admin), 403);
    }
    const int as_admin = status_of(r, admin_key);
    EXPECT_NE(as_admin, 401);
    EXPECT_NE(as_admin, 403);
  }
  // The scoped key works inside its subtree and its queries see only it.
  Client scoped(server_->port(), scoped_admin);
  EXPECT_EQ(scoped.Get("/v1/nodes/" + inside).status, 200);
  Answer q = scoped.Post("/v1/query", json::object());
  ASSERT_EQ(q.status, 200) << q.text;
  ASSERT_EQ(q.body["hits"].size(), 1u);
  EXPECT_EQ(q.body["hits"][0]["node"]["id"], inside);
  EXPECT_EQ(scoped.Post("/v1/nodes", {{"content", "x"}}).status, 403);  // a root
  EXPECT_EQ(scoped.Post("/v1/nodes", {{"content", "x"}, {"parent_id", outside}}).status, 403);
  EXPECT_EQ(scoped.Post("/v1/nodes", {{"content", "x"}, {"parent_id", inside}}).status, 201);
  // Revoked keys stop working.
  ASSERT_OK(store.Revoke(read_key.substr(4, 8)));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(Client(server_->port(), read_key).Get("/v1/stats").status, 401);
}

TEST_F(ServerTest, KeysAreStoredHashedAndAtLeast16Bytes) {
  nodespace::testing::TempDir d;
  ApiKeyStore store(d.Sub("keys.json"));
  const std::string key = *store.Create("k", Role::kWrite, {});
  EXPECT_GE(key.size(), 4u + 8 + 1 + 64);
  std::ifstream in(d.Sub("keys.json"));
  std::string file((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(file.find(key.substr(13)), std::string::npos);
  EXPECT_NE(file.find(Sha256Hex(key)), std::string::npos);
  EXPECT_TRUE(store.Verify(key).ok());
  std::string wrong = key;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  EXPECT_FALSE(store.Verify(wrong).ok());
  EXPECT_FALSE(store.Verify("").ok());
}

TEST_F(ServerTest, RefusesANonLoopbackAddressWithoutKeys) {
  ServerOptions o;
  o.database_path = dir_.Sub("db");
  o.host = "0.0.0.0";
  o.info_log = [](std::string_view) {};
  auto s = Server::Start(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("without API keys"), std::string::npos);
}

TEST_F(ServerTest, RateLimitAnswers429WithRetryAfter) {
  ServerOptions o;
  o.rate_limit_per_second = 1;
  o.rate_limit_burst = 3;
  Start(o);
  Client c = Anon();
  int limited = 0;
  std::string retry;
  for (int i = 0; i < 6; ++i) {
    Answer a = c.Get("/v1/stats");
    if (a.status == 429) {
      ++limited;
      retry = a.header("Retry-After");
      EXPECT_EQ(a.body["error"]["code"], "rate_limited");
    }
  }
  EXPECT_GE(limited, 2);
  EXPECT_FALSE(retry.empty());
  EXPECT_EQ(c.Get("/livez").status, 200);  // health is never limited
}

TEST_F(ServerTest, BackupAndRestorePathsStayInsideTheBackupDirectory) {
  Start();
  Client c = Anon();
  std::filesystem::create_directories(options_.backup_dir);
  std::filesystem::create_directory_symlink("/tmp", options_.backup_dir + "/link");
  const std::vector<std::string> bad = {
      "..", "../x", "/etc", "a/b", ".hidden", std::string("a\0b", 3), "link"};
  for (const std::string& name : bad) {
    SCOPED_TRACE(name);
    Answer b = c.Post("/v1/backups", {{"name", name}});
    EXPECT_EQ(b.status, 400) << b.text;
    Answer r = c.Post("/v1/restore", {{"name", name}});
    EXPECT_EQ(r.status, 400) << r.text;
  }
  EXPECT_EQ(c.Post("/v1/restore", {{"name", "missing"}}).status, 404);

  const std::string id = CreateNode(c, {{"content", "before the backup"}});
  Answer started = c.Post("/v1/backups", {{"name", "nightly"}});
  ASSERT_EQ(started.status, 202) << started.text;
  const std::string task = started.body["task_id"];
  Answer t;
  for (int i = 0; i < 200; ++i) {
    t = c.Get("/v1/tasks/" + task);
    if (t.body["state"] != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(t.body["state"], "succeeded") << t.text;
  EXPECT_EQ(c.Post("/v1/backups", {{"name", "nightly"}}).status, 409);

  CreateNode(c, {{"content", "after the backup"}});
  Answer restore = c.Post("/v1/restore", {{"name", "nightly"}});
  ASSERT_EQ(restore.status, 202);
  for (int i = 0; i < 200; ++i) {
    t = c.Get("/v1/tasks/" + restore.body["task_id"].get<std::string>());
    if (t.body["state"] != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(t.body["state"], "succeeded") << t.text;
  EXPECT_EQ(c.Get("/v1/stats").body["node_count"], 1);
  EXPECT_EQ(c.Get("/v1/nodes/" + id).status, 200);
}

TEST_F(ServerTest, ImportStreamsToATaskWithPerLineResultsAndExportStreams) {
  Start();
  Client c = Anon();
  std::string ndjson;
  for (int i = 0; i < 50; ++i)
    ndjson += json({{"id", "n" + std::to_string(i)}, {"content", "line"}}).dump() + "\n";
  ndjson += "{broken\n";
  ndjson += R"({"id":"child","parent_id":"n3","content":"nested"})"
            "\n";
  Answer a = c.Send("POST", "/v1/import?batch_size=10", ndjson);
  ASSERT_EQ(a.status, 202) << a.text;
  Answer t;
  for (int i = 0; i < 200; ++i) {
    t = c.Get(a.body["status_url"]);
    if (t.body["state"] != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(t.body["state"], "succeeded") << t.text;
  EXPECT_EQ(t.body["result"]["nodes"], 51);
  EXPECT_EQ(t.body["result"]["errors"], 1);
  ASSERT_EQ(t.body["result"]["bad_lines"].size(), 1u);
  EXPECT_NE(t.body["result"]["bad_lines"][0].get<std::string>().find(":51:"), std::string::npos)
      << t.text;
  Answer exp = c.Get("/v1/export");
  ASSERT_EQ(exp.status, 200);
  EXPECT_EQ(std::count(exp.text.begin(), exp.text.end(), '\n'), 51);
  Answer sub = c.Get("/v1/export?root=n3");
  EXPECT_EQ(std::count(sub.text.begin(), sub.text.end(), '\n'), 2);
  EXPECT_EQ(c.Get("/v1/export?root=nope").status, 404);
}

TEST_F(ServerTest, ChangeFeedFiltersResumesAndSkipsOwnEchoes) {
  Start();
  Client c = Anon();
  const std::string a = CreateNode(c, {{"content", "# A"}});
  const std::string b = CreateNode(c, {{"content", "# B"}});
  BackgroundStream feed(
      server_->port(), "/v1/changes?subtree=" + a + "&exclude_origin=editor-1",
      [](const std::string& t) { return t.find("\"last\"") != std::string::npos; });
  ASSERT_TRUE(feed.Started());
  CreateNode(c, {{"content", "in B"}, {"parent_id", b}});
  c.Post("/v1/nodes", {{"content", "mine"}, {"parent_id", a}}, {{"X-Client-Id", "editor-1"}});
  const std::string in_a = CreateNode(c, {{"content", "in A"}, {"parent_id", a}});
  c.Send("DELETE", "/v1/nodes/" + in_a);
  CreateNode(c, {{"id", "last"}, {"content", "end"}, {"parent_id", a}});
  const std::string text = feed.Finish();
  EXPECT_EQ(text.find("in B"), std::string::npos);
  EXPECT_EQ(text.find("editor-1"), std::string::npos);
  EXPECT_NE(text.find("\"node_id\":\"" + in_a + "\",\"op\":\"create\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"node_id\":\"" + in_a + "\",\"op\":\"delete\""), std::string::npos) << text;

  // Resuming from an event id replays exactly what came after it.
  std::string replay;
  Client resumed(server_->port());
  resumed.Stream("/v1/changes",
                 [](const std::string& t) { return t.find("\"last\"") != std::string::npos; },
                 &replay, {{"Last-Event-ID", "2"}});
  EXPECT_EQ(replay.find("id: 2\n"), std::string::npos);
  EXPECT_NE(replay.find("id: 3\n"), std::string::npos) << replay;
}

TEST_F(ServerTest, ChangeFeedFilteredByAQuery) {
  Start();
  Client c = Anon();
  const std::string q = httplib::detail::encode_query_param(
      R"({"filters":[{"field":"properties.task.status","op":"=","value":"open"}]})");
  BackgroundStream feed(server_->port(), "/v1/changes?query=" + q, [](const std::string& t) {
    return t.find("\"op\":\"delete\"") != std::string::npos;
  });
  ASSERT_TRUE(feed.Started());
  CreateNode(
      c, {{"id", "done"}, {"node_type", "task"}, {"properties", {{"task", {{"status", "done"}}}}}});
  CreateNode(
      c, {{"id", "open"}, {"node_type", "task"}, {"properties", {{"task", {{"status", "open"}}}}}});
  c.Send("DELETE", "/v1/nodes/done");
  c.Send("DELETE", "/v1/nodes/open");
  const std::string text = feed.Finish();
  EXPECT_NE(text.find("\"node_id\":\"open\",\"op\":\"create\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"node_id\":\"open\",\"op\":\"delete\""), std::string::npos) << text;
  EXPECT_EQ(text.find("\"done\""), std::string::npos) << text;
  EXPECT_EQ(c.Get("/v1/changes?query=%7B%22text%22%3A%22x%22%7D").status, 400);
}

TEST_F(ServerTest, QueriesOverTheTimeLimitAreStopped) {
  {
    auto db = Database::Open(dir_.Sub("db"));
    ASSERT_TRUE(db.ok());
    WriteBatch batch;
    for (int i = 0; i < 20000; ++i) {
      batch.Create({.content = "note number " + std::to_string(i) + " about nothing much"});
    }
    ASSERT_TRUE((*db)->Write(batch).ok());
  }
  ServerOptions o;
  o.query_timeout_ms = 1;
  Start(o);
  Client c = Anon();
  Answer slow = c.Post("/v1/query",
                       {{"filters", {{{"field", "content"}, {"op", "contains"}, {"value", "zzz"}}}},
                        {"sort", {{{"field", "title"}}}},
                        {"facets", {{{"field", "type"}}}}});
  ASSERT_EQ(slow.status, 422) << slow.text.substr(0, 300);
  EXPECT_EQ(slow.body["error"]["code"], "query_timeout");
  EXPECT_EQ(c.Get("/livez").status, 200);
}

TEST_F(ServerTest, LiveQuerySendsSnapshotThenChanges) {
  Start();
  Client c = Anon();
  CreateNode(c, {{"id", "t1"}, {"node_type", "task"}, {"content", "write docs"}});
  const std::string q = httplib::detail::encode_query_param(
      R"({"filters":[{"field":"type","op":"=","value":"task"}]})");
  BackgroundStream live(
      server_->port(), "/v1/live?q=" + q,
      [](const std::string& t) {
        return t.find("event: update") != std::string::npos &&
               t.find("\"t2\"") != std::string::npos;
      },
      "event: snapshot");
  ASSERT_TRUE(live.Started());
  CreateNode(c, {{"id", "other"}, {"content", "not a task"}});
  CreateNode(c, {{"id", "t2"}, {"node_type", "task"}, {"content", "ship"}});
  const std::string text = live.Finish();
  EXPECT_NE(text.find("\"t1\""), std::string::npos);
  EXPECT_NE(text.find("\"added\":[{"), std::string::npos) << text;
  EXPECT_EQ(text.find("\"other\""), std::string::npos);

  // A query node: its stored query, subscribed to by id.
  CreateNode(c,
             {{"id", "open-tasks"},
              {"node_type", "query"},
              {"content", "Open tasks"},
              {"properties",
               {{"query", {{"filters", {{{"field", "type"}, {"op", "="}, {"value", "task"}}}}}}}}});
  BackgroundStream by_node(
      server_->port(), "/v1/live?node=open-tasks",
      [](const std::string& t) { return t.find("\"t3\"") != std::string::npos; },
      "event: snapshot");
  ASSERT_TRUE(by_node.Started());
  CreateNode(c, {{"id", "t3"}, {"node_type", "task"}, {"content", "review"}});
  const std::string from_node = by_node.Finish();
  EXPECT_NE(from_node.find("\"t2\""), std::string::npos);  // in the snapshot
  EXPECT_NE(from_node.find("event: update"), std::string::npos);
  EXPECT_EQ(Client(server_->port()).Get("/v1/live?node=other").status, 422);
}

TEST_F(ServerTest, McpJsonRpcExchange) {
  Start();
  Client c = Anon();
  auto rpc = [&](json params, const std::string& method, int id) {
    return c.Post("/v1/mcp",
                  {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}});
  };
  Answer init =
      rpc({{"protocolVersion", "2025-03-26"}, {"capabilities", json::object()}}, "initialize", 1);
  ASSERT_EQ(init.status, 200);
  EXPECT_EQ(init.body["result"]["serverInfo"]["name"], "nodespace");
  EXPECT_EQ(c.Post("/v1/mcp", {{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}).status,
            202);
  Answer list = rpc(json::object(), "tools/list", 2);
  std::set<std::string> names;
  for (const auto& t : list.body["result"]["tools"]) names.insert(t["name"]);
  for (const char* want : {"create_node", "get_node", "update_node", "delete_node", "query_nodes",
                           "get_children", "insert_child_at_index", "move_child_to_index",
                           "get_node_tree", "search_semantic", "create_nodes_from_markdown",
                           "get_markdown_from_node_id", "get_nodes_batch", "update_nodes_batch"}) {
    EXPECT_TRUE(names.count(want)) << want;
  }
  auto call = [&](const std::string& tool, json args) {
    Answer a = rpc({{"name", tool}, {"arguments", args}}, "tools/call", 3);
    EXPECT_EQ(a.status, 200);
    return a.body["result"];
  };
  json created = call("create_node", {{"content", "# Inbox"}});
  ASSERT_FALSE(created["isError"].get<bool>()) << created.dump();
  const std::string inbox = created["structuredContent"]["id"];
  call("insert_child_at_index", {{"parent_id", inbox}, {"index", 0}, {"content", "second"}});
  call("insert_child_at_index", {{"parent_id", inbox}, {"index", 0}, {"content", "first"}});
  json tree = call("get_node_tree", {{"id", inbox}})["structuredContent"];
  ASSERT_EQ(tree["children"].size(), 2u);
  EXPECT_EQ(tree["children"][0]["content"], "first");
  json stale = call("update_node", {{"id", inbox}, {"version", 7}, {"content", "x"}});
  EXPECT_TRUE(stale["isError"].get<bool>());
  json md =
      call("create_nodes_from_markdown", {{"markdown", "- one\n  - two\n"}, {"parent_id", inbox}});
  ASSERT_FALSE(md["isError"].get<bool>()) << md.dump();
  json text = call("get_markdown_from_node_id", {{"id", inbox}});
  EXPECT_NE(text["structuredContent"]["markdown"].get<std::string>().find("two"),
            std::string::npos);
  // JSON-RPC errors for protocol mistakes.
  EXPECT_EQ(c.Send("POST", "/v1/mcp", "{oops").body["error"]["code"], -32700);
  EXPECT_EQ(rpc(json::object(), "no/such", 9).body["error"]["code"], -32601);
}

TEST_F(ServerTest, DashboardIsServedFromTheBinaryWithoutAKey) {
  ServerOptions o;
  o.require_keys = true;
  Start(o);
  Client c = Anon();
  if (WebAssets().empty()) {  // built with NODESPACE_BUILD_DASHBOARD=OFF
    Answer none = c.Get("/");
    EXPECT_EQ(none.status, 404);
    EXPECT_NE(none.text.find("without the dashboard"), std::string::npos);
    return;
  }
  Answer page = c.Get("/");
  ASSERT_EQ(page.status, 200) << page.text;
  EXPECT_EQ(page.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(page.header("Cache-Control"), "no-cache");
  EXPECT_NE(page.header("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_NE(page.text.find("<div id=\"app\">"), std::string::npos);
  // Every asset the page names is served, cacheable for good.
  std::smatch m;
  std::string rest = page.text;
  int assets = 0;
  const std::regex ref("(src|href)=\"(/assets/[^\"]+)\"");
  while (std::regex_search(rest, m, ref)) {
    Answer asset = c.Get(m[2].str());
    EXPECT_EQ(asset.status, 200) << m[2];
    EXPECT_NE(asset.header("Cache-Control").find("immutable"), std::string::npos);
    EXPECT_FALSE(asset.text.empty());
    ++assets;
    rest = m.suffix();
  }
  EXPECT_GE(assets, 2);  // the script and the styles
  EXPECT_EQ(c.Get("/assets/nope.js").status, 404);
  // The API behind it still wants the key.
  EXPECT_EQ(c.Get("/v1/roots").status, 401);
}

TEST_F(ServerTest, LargeBodiesAreGzippedWhenOfferedAndNeverBrotli) {
  Start();
  httplib::Client raw("127.0.0.1", server_->port());
  raw.set_decompress(false);
  // A browser's offer: gzip is used (fast), br is not.
  auto r = raw.Get("/v1/openapi.json", {{"Accept-Encoding", "gzip, deflate, br, zstd"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Content-Encoding"), "gzip");
  EXPECT_EQ(r->get_header_value("Vary"), "Accept-Encoding");
  const size_t packed = r->body.size();
  r = raw.Get("/v1/openapi.json", {{"Accept-Encoding", "br"}});
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_header("Content-Encoding"));
  EXPECT_GT(r->body.size(), packed * 4);
  EXPECT_EQ(json::parse(r->body)["openapi"].get<std::string>().substr(0, 2), "3.");
  // A client that decompresses gets the same document.
  httplib::Client inflating("127.0.0.1", server_->port());
  auto same = inflating.Get("/v1/openapi.json", {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(same);
  EXPECT_EQ(same->body, r->body);
  // Small answers go as they are.
  r = raw.Get("/livez", {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_header("Content-Encoding"));
}

TEST_F(ServerTest, ChildrenPageThroughWithCountsForATreeView) {
  Start();
  Client c = Anon();
  const std::string root = CreateNode(c, {{"content", "# Root"}});
  std::vector<std::string> kids;
  for (int i = 0; i < 5; ++i)
    kids.push_back(CreateNode(c, {{"content", "kid " + std::to_string(i)}, {"parent_id", root}}));
  CreateNode(c, {{"content", "grandchild"}, {"parent_id", kids[1]}});

  std::vector<std::string> seen;
  std::string after;
  for (int page = 0; page < 5; ++page) {
    Answer a = c.Get("/v1/nodes/" + root + "/children?limit=2&child_counts=true" +
                     (after.empty() ? "" : "&after=" + after));
    ASSERT_EQ(a.status, 200) << a.text;
    for (const json& n : a.body["nodes"]) {
      seen.push_back(n["id"]);
      EXPECT_EQ(n["child_count"], n["id"] == kids[1] ? 1 : 0);
    }
    if (!a.body.contains("next_after")) break;
    after = a.body["next_after"];
  }
  EXPECT_EQ(seen, kids);
  Answer roots = c.Get("/v1/roots?child_counts=true");
  ASSERT_EQ(roots.status, 200);
  EXPECT_EQ(roots.body["nodes"][0]["child_count"], 5);
  EXPECT_FALSE(roots.body.contains("next_after"));  // no limit, one page
  Answer bad = c.Get("/v1/nodes/" + root + "/children?after=" + root);
  EXPECT_EQ(bad.status, 422);
  EXPECT_NE(bad.text.find("is not a child of"), std::string::npos);
}

TEST_F(ServerTest, CollectionsOfANode) {
  const std::string db_path = dir_.Sub("db");
  std::string id;
  {
    auto db = Database::Open(db_path).value();
    NewNode n;
    n.content = "member";
    id = db->Create(n).value().id;
    ASSERT_TRUE(db->AddToCollection(id, "work:projects").ok());
    ASSERT_TRUE(db->AddToCollection(id, "archive").ok());
  }
  Start();
  Client c = Anon();
  Answer a = c.Get("/v1/nodes/" + id + "/collections");
  ASSERT_EQ(a.status, 200) << a.text;
  EXPECT_EQ(a.body["collections"], json({"archive", "work:projects"}));
  EXPECT_EQ(c.Get("/v1/nodes/nope/collections").status, 404);
}

TEST_F(ServerTest, ScalingSamplesAreASeriesOldestFirst) {
  Start();
  Client c = Anon();
  CreateNode(c, {{"content", "one"}});
  ASSERT_EQ(c.Get("/v1/scaling/status").status, 200);
  CreateNode(c, {{"content", "two"}});
  ASSERT_EQ(c.Get("/v1/scaling/status").status, 200);
  Answer a = c.Get("/v1/scaling/samples?limit=2");
  ASSERT_EQ(a.status, 200) << a.text;
  const json& s = a.body["samples"];
  ASSERT_EQ(s.size(), 2u);
  EXPECT_LE(s[0]["sampled_at_ms"].get<int64_t>(), s[1]["sampled_at_ms"].get<int64_t>());
  EXPECT_EQ(s[0]["node_count"], 1);
  EXPECT_EQ(s[1]["node_count"], 2);
  EXPECT_TRUE(s[1].contains("p95_query_latency_ms"));
  EXPECT_EQ(c.Get("/v1/scaling/samples?limit=0").status, 400);
}

TEST_F(ServerTest, QueryHighlightMarksSnippets) {
  Start();
  Client c = Anon();
  CreateNode(c, {{"content", "the quick brown fox jumps"}});
  Answer a =
      c.Post("/v1/query", {{"text", "fox"}, {"highlight", {{"open", "<<"}, {"close", ">>"}}}});
  ASSERT_EQ(a.status, 200) << a.text;
  ASSERT_EQ(a.body["hits"].size(), 1u);
  EXPECT_EQ(a.body["hits"][0]["snippet"], "the quick brown <<fox>> jumps");
  Answer bad = c.Post("/v1/query", {{"text", "fox"}, {"highlight", "yes"}});
  EXPECT_EQ(bad.status, 400);
}

// Polls a task until it ends.
json WaitForTask(Client& c, const std::string& url) {
  Answer t;
  for (int i = 0; i < 400; ++i) {
    t = c.Get(url);
    if (t.body["state"] != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return t.body;
}

TEST_F(ServerTest, MarkdownArchiveUploadImportsAVault) {
  Start();
  Client c = Anon();
  const std::string zip = dir_.Sub("garden.zip");
  nodespace::testing::WriteArchive(zip,
                                   {{"garden/", "", nodespace::testing::kArchiveDir},
                                    {"garden/Welcome.md", "# Welcome\n\nSee [[Plants]].\n"},
                                    {"garden/notes/Plants.md", "# Plants\n\n- water the ferns\n"}});
  std::ifstream in(zip, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Answer a = c.Send("POST", "/v1/import/markdown?flavor=markdown", bytes);
  ASSERT_EQ(a.status, 202) << a.text;
  json task = WaitForTask(c, a.body["status_url"]);
  ASSERT_EQ(task["state"], "succeeded") << task.dump();
  EXPECT_EQ(task["result"]["vault"], "garden");  // the archive's top folder
  EXPECT_EQ(task["result"]["files"], 2);
  EXPECT_EQ(task["result"]["links_resolved"], 1);
  Answer found = c.Post("/v1/query", {{"text", "ferns"}});
  ASSERT_EQ(found.body["hits"].size(), 1u) << found.text;
  // The same vault again, whatever the file is called, changes nothing
  // (ids derive from the vault's name: its top folder).
  a = c.Send("POST", "/v1/import/markdown?flavor=markdown&filename=garden-backup.zip", bytes);
  task = WaitForTask(c, a.body["status_url"]);
  EXPECT_EQ(task["result"]["vault"], "garden");
  EXPECT_EQ(task["result"]["files_unchanged"], 2) << task.dump();
  EXPECT_EQ(task["result"]["nodes_created"], 0);

  // What is not an archive, or escapes it, fails the task with a reason.
  a = c.Send("POST", "/v1/import/markdown?filename=x.zip", "not a zip");
  task = WaitForTask(c, a.body["status_url"]);
  EXPECT_EQ(task["state"], "failed");
  EXPECT_NE(task["error"]["message"].get<std::string>().find("not a zip or tar"), std::string::npos)
      << task.dump();
  nodespace::testing::WriteArchive(zip, {{"../../escape.md", "x"}});
  std::ifstream evil_in(zip, std::ios::binary);
  const std::string evil((std::istreambuf_iterator<char>(evil_in)),
                         std::istreambuf_iterator<char>());
  a = c.Send("POST", "/v1/import/markdown?filename=x.zip", evil);
  task = WaitForTask(c, a.body["status_url"]);
  EXPECT_EQ(task["state"], "failed");
  EXPECT_EQ(c.Send("POST", "/v1/import/markdown?flavor=word", bytes).status, 400);
}

TEST_F(ServerTest, OpenApiDocumentListsExactlyTheRoutes) {
  Start();
  json doc = json::parse(OpenApiDocument());
  ASSERT_EQ(doc["openapi"].get<std::string>().substr(0, 2), "3.");
  nodespace::testing::TempDir scratch;
  ServerOptions so;
  so.database_path = scratch.Sub("db");
  ServerState state(so, std::move(Database::Open(so.database_path).value()));
  std::set<std::string> in_router, in_doc;
  for (const Route& r : BuildRoutes(state)) {
    std::string m = r.method;
    std::transform(m.begin(), m.end(), m.begin(), ::tolower);
    in_router.insert(m + " " + r.path);
  }
  for (const auto& [path, ops] : doc["paths"].items()) {
    for (const auto& [method, op] : ops.items()) in_doc.insert(method + " " + path);
  }
  EXPECT_EQ(in_router, in_doc);
  // The served copy is the same document.
  Client c = Anon();
  EXPECT_EQ(c.Get("/v1/openapi.json").body, doc);
}

TEST_F(ServerTest, HundredsOfSlowClientsDoNotStopLivez) {
  Start();
  std::vector<int> fds;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < 300; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const char* partial = "GET /v1/stats HTTP/1.1\r\nHost: slow\r\n";  // never finished
    ASSERT_GT(::write(fd, partial, std::strlen(partial)), 0);
    fds.push_back(fd);
  }
  Client c = Anon();
  Answer live = c.Get("/livez");
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(c.Get("/v1/stats").status, 200);
  for (int fd : fds) ::close(fd);
}

TEST_F(ServerTest, ConcurrentWritersAreAllAcknowledgedAndStored) {
  Start();
  constexpr int kThreads = 16, kEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> acknowledged{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client c(server_->port());
      for (int i = 0; i < kEach; ++i) {
        Answer a = c.Post("/v1/nodes", {{"id", "w" + std::to_string(t) + "-" + std::to_string(i)},
                                        {"content", "x"}});
        if (a.status == 201) ++acknowledged;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(acknowledged, kThreads * kEach);
  Client c = Anon();
  EXPECT_EQ(c.Get("/v1/stats").body["node_count"], kThreads * kEach);
  const std::string metrics = c.Get("/metrics").text;
  EXPECT_NE(metrics.find("nodespace_group_commit_operations_count"), std::string::npos);
}

// The scaling manager's users and rates come from real requests: each key
// (here: each client id on loopback) is one user.
TEST_F(ServerTest, ScalingMetricsCountHttpUsers) {
  Start();
  for (const char* client : {"ana", "ben", "cy"}) {
    Client c = Anon();
    Answer a = c.Post("/v1/query", {{"limit", 5}}, {{"X-Client-Id", client}});
    ASSERT_EQ(a.status, 200) << a.text;
  }
  Answer status = Anon().Get("/v1/scaling/status");
  ASSERT_EQ(status.status, 200);
  EXPECT_EQ(status.body["metrics"]["concurrent_users"], 3);
  EXPECT_GE(status.body["metrics"]["window_queries"].get<int64_t>(), 3);
}

TEST_F(ServerTest, MetricsExposeEveryScalingFieldAndRequests) {
  Start();
  Client c = Anon();
  c.Get("/v1/stats");
  const std::string text = c.Get("/metrics").text;
  for (const char* field :
       {"avg_query_latency_ms", "p95_query_latency_ms", "avg_vector_latency_ms",
        "p95_vector_latency_ms", "query_cache_hit_rate", "storage_size_bytes", "node_count",
        "vector_count", "index_size_bytes", "memory_usage_mb", "cpu_usage_percent",
        "disk_io_mb_per_sec", "concurrent_users", "queries_per_second",
        "sync_operations_per_second", "unindexed_hot_fields"}) {
    EXPECT_NE(text.find(std::string("\nnodespace_") + field + " "), std::string::npos) << field;
  }
  EXPECT_NE(
      text.find(
          "nodespace_http_requests_total{method=\"GET\",route=\"/v1/stats\",status=\"200\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("nodespace_http_request_duration_seconds_bucket"), std::string::npos);
}

TEST_F(ServerTest, RequestIdsAndTraceContext) {
  Start();
  Client c = Anon();
  Answer a = c.Get("/v1/stats",
                   {{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}});
  EXPECT_EQ(a.header("traceparent").substr(0, 36), "00-0af7651916cd43dd8448eb211c80319c-");
  EXPECT_EQ(a.header("X-Request-Id").size(), 16u);
  Answer e = c.Get("/v1/nodes/missing");
  EXPECT_EQ(e.body["error"]["details"]["request_id"], e.header("X-Request-Id"));
}

TEST_F(ServerTest, EmbeddingsEndpointSpeaksTheOpenAIShape) {
  {
    auto db = Database::Open(dir_.Sub("db"));
    ASSERT_TRUE(db.ok());
    for (const char* t :
         {"apples and pears", "pears and plums", "rust and steel", "steel bridges"}) {
      ASSERT_TRUE((*db)->Create({.content = t}).ok());
    }
    ASSERT_TRUE((*db)->FitBuiltinEmbedder(4).ok());
  }
  Start();
  Client c = Anon();
  Answer a = c.Post("/v1/embeddings", {{"input", {"apples", "steel"}}, {"model", "any"}});
  ASSERT_EQ(a.status, 200) << a.text;
  EXPECT_EQ(a.body["object"], "list");
  ASSERT_EQ(a.body["data"].size(), 2u);
  EXPECT_EQ(a.body["data"][1]["index"], 1);
  EXPECT_EQ(a.body["data"][0]["embedding"].size(), 4u);
  EXPECT_EQ(c.Post("/v1/embeddings", {{"input", 5}}).status, 400);
  EXPECT_EQ(c.Post("/v1/embeddings", {{"input", "zzzqqq"}}).status, 422);
}

}  // namespace
}  // namespace nodespace::server
