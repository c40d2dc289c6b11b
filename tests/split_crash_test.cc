// Crash test of the partition split: runs the real `nodespace partitions
// split` on copies of one unpartitioned database and SIGKILLs it at random
// moments. After each kill the database must open with every node present
// and intact (CheckIntegrity), searches must answer as before, and the next
// split must finish the job: every node in its root's partition, each
// partition's vector index agreeing with the data.
// NODESPACE_CRASH_KILLS sets the number of kills.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "nodespace/database.h"
#include "test_util.h"

namespace nodespace {
namespace {

namespace fs = std::filesystem;

constexpr int kRoots = 120;
constexpr int kChildren = 60;
constexpr int kDim = 8;
constexpr const char* kTarget = "400";
constexpr const char* kBatch = "150";

std::vector<float> VectorFor(int i) {
  std::mt19937 rng(static_cast<uint32_t>(i));
  std::normal_distribution<float> g;
  std::vector<float> v(kDim);
  for (float& x : v) x = g(rng);
  return v;
}

void Build(const std::string& dir) {
  auto db = Database::Open(dir);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  for (int r = 0; r < kRoots; ++r) {
    WriteBatch batch;
    NewNode root;
    root.id = "r" + std::to_string(r);
    root.content = "root " + std::to_string(r);
    root.created_at = 1700000000000LL + r * 60000LL;
    root.embedding = VectorFor(r * 1000);
    batch.Create(root);
    for (int c = 0; c < kChildren; ++c) {
      NewNode child;
      child.id = root.id + "c" + std::to_string(c);
      // Chains as well as fans: half the children hang under a sibling.
      child.parent_id = c % 2 == 0 || c < 2 ? root.id : root.id + "c" + std::to_string(c - 1);
      child.content = "child " + std::to_string(c) + " of " + root.id;
      child.embedding = VectorFor(r * 1000 + c + 1);
      batch.Create(child);
    }
    ASSERT_TRUE(db.value()->Write(batch).ok());
  }
}

int64_t Misplaced(const std::string& dir) {
  sqlite3* db = nullptr;
  sqlite3_open_v2((dir + "/nodespace.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db,
                     "WITH RECURSIVE t(id, p) AS (SELECT id, partition_id FROM nodes WHERE "
                     "parent_id = '' UNION ALL SELECT n.id, t.p FROM nodes n JOIN t ON "
                     "n.parent_id = t.id) SELECT count(*) FROM t JOIN nodes n ON n.id = t.id "
                     "WHERE n.partition_id != t.p OR n.partition_id = 0",
                     -1, &stmt, nullptr);
  int64_t n = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) n = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

// Starts the split and kills it after `delay` unless it exits first;
// returns whether it finished.
bool RunAndKill(const std::string& db, std::chrono::microseconds delay) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    dup2(devnull, STDERR_FILENO);
    execl(NODESPACE_BIN, NODESPACE_BIN, "--db", db.c_str(), "partitions", "split", "--target-nodes",
          kTarget, "--batch-rows", kBatch, static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + delay;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void ExpectAnswersRight(Database& db, int round) {
  for (int probe : {0, 3 * 1000 + 30, 37 * 1000 + 12, 119 * 1000 + 60, 64 * 1000 + 31}) {
    VectorSearchOptions q;
    q.vector = VectorFor(probe);
    q.k = 1;
    q.exact = true;
    auto r = db.SearchVector(q);
    ASSERT_TRUE(r.ok()) << "round " << round << ": " << r.status().ToString();
    ASSERT_EQ(r->hits.size(), 1u) << "round " << round;
    const int root = probe / 1000, child = probe % 1000;
    const std::string want =
        "r" + std::to_string(root) + (child == 0 ? "" : "c" + std::to_string(child - 1));
    EXPECT_EQ(r->hits[0].node.id, want) << "round " << round << " plan " << r->plan;
  }
}

TEST(SplitCrashTest, KilledSplitsLeaveAConsistentDatabaseThatFinishesTheSplit) {
  const char* env = std::getenv("NODESPACE_CRASH_KILLS");
  const int kills = env ? std::atoi(env) : 10;
  testing::TempDir tmp;
  const std::string golden = tmp.Sub("golden");
  Build(golden);

  // How long an uninterrupted split takes here: kills land inside it.
  const std::string timing = tmp.Sub("timing");
  fs::copy(golden, timing, fs::copy_options::recursive);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(RunAndKill(timing, std::chrono::seconds(60)) || Misplaced(timing) == 0);
  const auto full = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  ASSERT_EQ(Misplaced(timing), 0);

  std::mt19937 rng(20261129);
  int interrupted = 0;
  for (int round = 0; round < kills; ++round) {
    const std::string dir = tmp.Sub("db" + std::to_string(round));
    fs::copy(golden, dir, fs::copy_options::recursive);
    const auto delay = std::chrono::microseconds(
        std::uniform_int_distribution<int64_t>(0, static_cast<int64_t>(full.count()))(rng));
    // A second kill of the resumed split on some rounds.
    bool finished = RunAndKill(dir, delay);
    if (!finished && round % 3 == 0) finished = RunAndKill(dir, delay / 2);
    {
      auto db = Database::Open(dir);
      ASSERT_TRUE(db.ok()) << "round " << round << ": " << db.status().ToString();
      ASSERT_TRUE((*db)->CheckIntegrity().ok()) << "round " << round;
      auto st = (*db)->GetPartitioningStatus();
      ASSERT_TRUE(st.ok());
      if (st->state != "active") ++interrupted;
      ExpectAnswersRight(**db, round);
    }
    // The next split resumes and finishes.
    Options options;
    options.partitions.target_nodes = std::atoll(kTarget);
    options.partitions.split_batch_rows = std::atoll(kBatch);
    auto db = Database::Open(dir, options);
    ASSERT_TRUE(db.ok());
    auto e = (*db)->ApplyScalingAction(OptimizationAction::kEnablePartitioning);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    ASSERT_NE(e->result, "failed") << e->message;
    EXPECT_EQ(Misplaced(dir), 0) << "round " << round;
    auto st = (*db)->GetPartitioningStatus();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->state, "active");
    int64_t nodes = 0;
    for (const PartitionInfo& p : st->partitions) nodes += p.node_count;
    EXPECT_EQ(nodes, kRoots * (kChildren + 1)) << "round " << round;
    ExpectAnswersRight(**db, round);
    fs::remove_all(dir);
  }
  EXPECT_GT(interrupted, kills / 4) << "kills rarely landed mid-split";
  std::cout << kills << " kills, " << interrupted << " left a split to resume (full split "
            << full.count() / 1000 << " ms)\n";
}

// Moves of a 61-node subtree between roots in different partitions, killed
// at random moments: each move is all or nothing, and the subtree is always
// wholly in the partition of the root it hangs under.
TEST(SplitCrashTest, KilledMovesAcrossPartitionsAreAllOrNothing) {
  const char* env = std::getenv("NODESPACE_CRASH_KILLS");
  const int kills = env ? std::atoi(env) : 10;
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("db");
  Build(dir);
  {
    Options options;
    options.partitions.target_nodes = std::atoll(kTarget);
    auto db = Database::Open(dir, options);
    ASSERT_TRUE(db.ok());
    auto e = (*db)->ApplyScalingAction(OptimizationAction::kEnablePartitioning);
    ASSERT_TRUE(e.ok() && e->result == "applied");
  }
  std::mt19937 rng(7);
  int moved = 0;
  for (int round = 0; round < kills; ++round) {
    const char* target = round % 2 == 0 ? "r100" : "r10";
    const pid_t pid = fork();
    if (pid == 0) {
      const int devnull = ::open("/dev/null", O_WRONLY);
      dup2(devnull, STDOUT_FILENO);
      dup2(devnull, STDERR_FILENO);
      execl(NODESPACE_BIN, NODESPACE_BIN, "--db", dir.c_str(), "mv", "r3", "-p", target,
            static_cast<char*>(nullptr));
      _exit(127);
    }
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::uniform_int_distribution<int>(0, 60000)(rng)));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_EQ(Misplaced(dir), 0) << "round " << round;
    auto db = Database::Open(dir);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->CheckIntegrity().ok()) << "round " << round;
    auto r3 = (*db)->Get("r3");
    ASSERT_TRUE(r3.ok());
    moved += r3->parent_id == target;
    ExpectAnswersRight(**db, round);
  }
  std::cout << kills << " kills, " << moved << " moves had committed\n";
}

}  // namespace
}  // namespace nodespace
