// `nodespace serve` and `nodespace mcp` as real processes: the port file,
// config precedence (file < environment < flags), graceful SIGTERM with
// every acknowledged write kept, and an MCP exchange over stdio.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "nodespace/database.h"
#include "test_util.h"

extern char** environ;

namespace nodespace::cli {
namespace {

using nlohmann::json;

// A child process with optional pipes to its stdin and from its stdout.
struct Child {
  pid_t pid = -1;
  int in = -1;   // write end of its stdin
  int out = -1;  // read end of its stdout

  static Child Spawn(std::vector<std::string> args, std::vector<std::string> env_extra,
                     bool pipes) {
    Child c;
    int to_child[2] = {-1, -1}, from_child[2] = {-1, -1};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (pipes) {
      EXPECT_EQ(::pipe(to_child), 0);
      EXPECT_EQ(::pipe(from_child), 0);
      posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
      posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
      posix_spawn_file_actions_addclose(&actions, to_child[1]);
      posix_spawn_file_actions_addclose(&actions, from_child[0]);
    } else {
      posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    }
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string(*e).rfind("NODESPACE_", 0) != 0) env_strings.push_back(*e);
    }
    for (auto& e : env_extra) env_strings.push_back(e);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&c.pid, NODESPACE_BIN, &actions, nullptr, argv.data(), envp.data()), 0);
    posix_spawn_file_actions_destroy(&actions);
    if (pipes) {
      ::close(to_child[0]);
      ::close(from_child[1]);
      c.in = to_child[1];
      c.out = from_child[0];
    }
    return c;
  }
  int Stop(int sig) {
    ::kill(pid, sig);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }
  ~Child() {
    if (in >= 0) ::close(in);
    if (out >= 0) ::close(out);
    if (pid > 0) Stop(SIGKILL);
  }
};

int WaitForPort(const std::string& port_file) {
  for (int i = 0; i < 400; ++i) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) return port;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return -1;
}

class ServeProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A server that answers 413 before reading a large body closes the
    // connection; the client's unfinished write must not kill the test.
    ::signal(SIGPIPE, SIG_IGN);
    ASSERT_TRUE(Database::Open(db_).ok());
  }
  Child Serve(std::vector<std::string> extra, std::vector<std::string> env = {}) {
    std::remove(port_file_.c_str());
    std::vector<std::string> args = {"nodespace",   "--db",     db_,
                                     "serve",       "--port",   "0",
                                     "--port-file", port_file_, "--no-access-log"};
    args.insert(args.end(), extra.begin(), extra.end());
    Child c = Child::Spawn(args, env, false);
    port_ = WaitForPort(port_file_);
    EXPECT_GT(port_, 0);
    return c;
  }
  // The status of a batch of three small creates.
  int PostBatchOfThree() {
    httplib::Client c("127.0.0.1", port_);
    json ops = json::array();
    for (int i = 0; i < 3; ++i) ops.push_back({{"op", "create"}, {"node", {{"content", "x"}}}});
    auto r = c.Post("/v1/nodes/batch", json({{"operations", ops}}).dump(), "application/json");
    return r ? r->status : -1;
  }

  nodespace::testing::TempDir dir_;
  std::string db_ = dir_.Sub("db");
  std::string port_file_ = dir_.Sub("port");
  int port_ = 0;
};

TEST_F(ServeProcessTest, SigtermDrainsAndKeepsEveryAcknowledgedWrite) {
  Child server = Serve({});
  httplib::Client c("127.0.0.1", port_);
  std::vector<std::string> acknowledged;
  for (int i = 0; i < 50; ++i) {
    auto r = c.Post("/v1/nodes", json({{"content", "note " + std::to_string(i)}}).dump(),
                    "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201);
    acknowledged.push_back(json::parse(r->body)["id"]);
  }
  const int status = server.Stop(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  auto db = Database::Open(db_);
  ASSERT_TRUE(db.ok());
  for (const std::string& id : acknowledged) EXPECT_TRUE((*db)->Get(id).ok()) << id;
}

TEST_F(ServeProcessTest, ConfigFileThenEnvironmentThenFlags) {
  const std::string config = dir_.Sub("serve.ini");
  std::ofstream(config) << "# serve options\n[serve]\nmax-batch = 2\nrate_limit = 500\n";
  {
    Child s = Serve({"--config", config});
    EXPECT_EQ(PostBatchOfThree(), 413);  // the file's limit of 2
  }
  {
    Child s = Serve({"--config", config}, {"NODESPACE_MAX_BATCH=5"});
    EXPECT_EQ(PostBatchOfThree(), 200);  // the environment beats the file
  }
  {
    Child s = Serve({"--config", config, "--max-batch", "2"}, {"NODESPACE_MAX_BATCH=5"});
    EXPECT_EQ(PostBatchOfThree(), 413);  // the flag beats both
  }
  // A config file naming an option serve does not have is refused.
  std::ofstream(config) << "max-bodies = 3\n";
  Child bad = Child::Spawn({"nodespace", "--db", db_, "serve", "--port", "0", "--config", config},
                           {}, false);
  int status = 0;
  ::waitpid(bad.pid, &status, 0);
  bad.pid = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2);
}

TEST_F(ServeProcessTest, McpOverStdio) {
  Child mcp = Child::Spawn({"nodespace", "--db", db_, "mcp"}, {}, true);
  FILE* out = ::fdopen(mcp.out, "r");
  ASSERT_NE(out, nullptr);
  mcp.out = -1;  // owned by `out` now
  auto exchange = [&](const json& message) {
    const std::string line = message.dump() + "\n";
    EXPECT_EQ(::write(mcp.in, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    char* buf = nullptr;
    size_t cap = 0;
    json reply;
    if (::getline(&buf, &cap, out) > 0) reply = json::parse(buf, nullptr, false);
    std::free(buf);
    return reply;
  };
  json init = exchange({{"jsonrpc", "2.0"},
                        {"id", 1},
                        {"method", "initialize"},
                        {"params", {{"protocolVersion", "2025-03-26"}}}});
  EXPECT_EQ(init["result"]["serverInfo"]["name"], "nodespace");
  // A notification gets no answer; the next request's answer comes next.
  const std::string note = R"({"jsonrpc":"2.0","method":"notifications/initialized"})"
                           "\n";
  ASSERT_EQ(::write(mcp.in, note.data(), note.size()), static_cast<ssize_t>(note.size()));
  json list = exchange({{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/list"}});
  EXPECT_EQ(list["id"], 2);
  EXPECT_GE(list["result"]["tools"].size(), 14u);
  json created =
      exchange({{"jsonrpc", "2.0"},
                {"id", 3},
                {"method", "tools/call"},
                {"params", {{"name", "create_node"}, {"arguments", {{"content", "# From MCP"}}}}}});
  ASSERT_FALSE(created["result"]["isError"].get<bool>()) << created.dump();
  const std::string id = created["result"]["structuredContent"]["id"];
  json got = exchange({{"jsonrpc", "2.0"},
                       {"id", 4},
                       {"method", "tools/call"},
                       {"params", {{"name", "get_node"}, {"arguments", {{"id", id}}}}}});
  EXPECT_EQ(got["result"]["structuredContent"]["title"], "From MCP");
  ::close(mcp.in);
  mcp.in = -1;
  int status = 0;
  ::waitpid(mcp.pid, &status, 0);
  mcp.pid = -1;
  std::fclose(out);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace nodespace::cli
