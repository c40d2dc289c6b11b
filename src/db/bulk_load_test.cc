// Bulk loading (Database::BeginBulkLoad / FinishBulkLoad): deferred
// full-text and secondary indexes come back complete, after a normal finish
// and after the loading handle went away without finishing.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "db/test_hooks.h"
#include "io/jsonl_import.h"
#include "nodespace/database.h"
#include "test_util.h"

namespace nodespace {
namespace {

using testing::TempDir;

// Runs `sql` on the database file past the engine (a connection of its
// own); column `column` of every row as text.
std::vector<std::string> RawColumn(const std::string& db_dir, const std::string& sql,
                                   int column = 0) {
  std::vector<std::string> values;
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2((db_dir + "/nodespace.db").c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr) ==
      SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(raw, sql.c_str(), -1, &stmt, nullptr);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, column);
      values.emplace_back(text == nullptr ? "" : reinterpret_cast<const char*>(text));
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(raw);
  return values;
}

// Names of the schema's indexes and triggers.
std::set<std::string> SchemaObjects(const std::string& db_dir) {
  const std::vector<std::string> names =
      RawColumn(db_dir,
                "SELECT type || ':' || name FROM sqlite_master WHERE type IN ('index', "
                "'trigger') AND sql IS NOT NULL");
  return {names.begin(), names.end()};
}

// The first column of the first row ("" when none).
std::string RawScalar(const std::string& db_dir, const std::string& sql) {
  const std::vector<std::string> values = RawColumn(db_dir, sql);
  return values.empty() ? std::string() : values.front();
}

// SQLite's plan for `sql`, its detail lines joined.
std::string QueryPlan(const std::string& db_dir, const std::string& sql) {
  std::string plan;
  for (const std::string& line : RawColumn(db_dir, "EXPLAIN QUERY PLAN " + sql, 3)) {
    plan += line + "\n";
  }
  return plan;
}

class BulkLoadTest : public ::testing::Test {
 protected:
  std::unique_ptr<Database> OpenDb() {
    Options options;
    options.info_log = [this](std::string_view line) {
      std::lock_guard lock(log_mu_);
      log_.emplace_back(line);
    };
    auto r = Database::Open(dir_.path(), options);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  static void Add(Database& db, const std::string& id, const std::string& content,
                  const std::string& type = "text") {
    NewNode n;
    n.id = id;
    n.content = content;
    n.node_type = type;
    ASSERT_TRUE(db.Create(n).ok()) << id;
  }

  static std::vector<std::string> TextIds(const Database& db, const std::string& query) {
    TextSearchOptions q;
    q.query = query;
    q.limit = 100;
    q.match_subtrees = false;
    q.any_term_fallback = false;
    auto r = db.SearchText(q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> ids;
    if (r.ok()) {
      for (const TextHit& h : r->hits) ids.push_back(h.node.id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  // Whether a logged line contains `text`.
  bool Logged(const std::string& text) {
    std::lock_guard lock(log_mu_);
    return std::any_of(log_.begin(), log_.end(), [&](const std::string& line) {
      return line.find(text) != std::string::npos;
    });
  }

  // Begins a load of 20 nodes and drops the handle without FinishBulkLoad,
  // as a killed process would leave it (the crash test kills real
  // importers). Returns the indexes and triggers from before the load.
  std::set<std::string> LeaveALoadUnfinished() {
    const std::set<std::string> before = [&] {
      auto db = OpenDb();
      return SchemaObjects(dir_.path());
    }();
    auto db = OpenDb();
    EXPECT_TRUE(db);
    if (!db) return before;
    EXPECT_OK(db->BeginBulkLoad());
    for (int i = 0; i < 20; ++i) Add(*db, "n" + std::to_string(i), "obsidian shard");
    return before;
  }

  // The next open finishes the load that LeaveALoadUnfinished left.
  void ExpectTheNextOpenFinishesIt(const std::set<std::string>& before) {
    auto db = OpenDb();
    ASSERT_TRUE(db);
    ASSERT_OK_AND_ASSIGN(bool pending, db->BulkLoadPending());
    EXPECT_FALSE(pending);
    EXPECT_EQ(SchemaObjects(dir_.path()), before);
    EXPECT_EQ(TextIds(*db, "obsidian").size(), 20u);
    EXPECT_OK(db->CheckIntegrity());
  }

  bool ScratchFileExists() const {
    return std::filesystem::exists(dir_.path() + "/bulk_text.scratch");
  }

  TempDir dir_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

// What the fallback logs when the text built during a load cannot be used.
constexpr char kRebuildLogged[] = "rebuilding the full-text index";

TEST_F(BulkLoadTest, FinishRebuildsTheFullTextIndexAndEveryDeferredIndex) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  Add(*db, "old-1", "granite quarry before the load");
  Add(*db, "old-2", "marble statue before the load");
  const std::set<std::string> before = SchemaObjects(dir_.path());
  ASSERT_TRUE(before.count("index:nodes_by_created"));
  ASSERT_TRUE(before.count("trigger:nodes_fts_insert"));

  ASSERT_OK(db->BeginBulkLoad());
  ASSERT_OK_AND_ASSIGN(bool pending, db->BulkLoadPending());
  EXPECT_TRUE(pending);
  const std::set<std::string> during = SchemaObjects(dir_.path());
  EXPECT_FALSE(during.count("index:nodes_by_created"));
  EXPECT_FALSE(during.count("trigger:nodes_fts_insert"));
  // Unique, and the table had rows (whose last keys the load does not
  // know): kept.
  EXPECT_TRUE(during.count("index:nodes_by_parent"));
  // Kept: every write transaction looks up the user schema nodes by type,
  // and a scan of the whole table per batch made large loads quadratic.
  EXPECT_TRUE(during.count("index:nodes_by_type"));
  EXPECT_NE(QueryPlan(dir_.path(),
                      "SELECT id, properties FROM nodes WHERE node_type = 'schema' AND "
                      "lifecycle = 0")
                .find("USING INDEX nodes_by_type"),
            std::string::npos);
  ASSERT_OK(db->BeginBulkLoad());  // again: nothing changes

  for (int i = 0; i < 50; ++i)
    Add(*db, "new-" + std::to_string(i), "basalt column " + std::to_string(i));
  // Edits and deletes of nodes indexed before the load, while it runs.
  ASSERT_OK_AND_ASSIGN(Node old1, db->Get("old-1"));
  NodePatch patch;
  patch.content = "sandstone quarry after the edit";
  ASSERT_TRUE(db->Update("old-1", patch, old1.version).ok());
  ASSERT_OK_AND_ASSIGN(Node old2, db->Get("old-2"));
  ASSERT_TRUE(db->Delete("old-2", old2.version).ok());
  // Correct while it runs: date filters scan instead of using the index.
  Add(*db, "task-1", "basalt task", "task");
  ASSERT_OK_AND_ASSIGN(bool finished, db->FinishBulkLoad());
  EXPECT_TRUE(finished);
  // The edit and the delete are changes the text built during the load
  // cannot have followed: the load rebuilt it from the table instead.
  EXPECT_TRUE(Logged(kRebuildLogged));
  EXPECT_FALSE(ScratchFileExists());

  EXPECT_EQ(SchemaObjects(dir_.path()), before);
  ASSERT_OK_AND_ASSIGN(pending, db->BulkLoadPending());
  EXPECT_FALSE(pending);
  EXPECT_EQ(TextIds(*db, "basalt").size(), 51u);
  ASSERT_OK_AND_ASSIGN(int64_t count, db->NodeCount());
  EXPECT_EQ(count, 2 + 50 + 1 - 1);  // old-2 deleted
  EXPECT_EQ(TextIds(*db, "sandstone"), std::vector<std::string>{"old-1"});
  EXPECT_TRUE(TextIds(*db, "granite").empty());
  EXPECT_TRUE(TextIds(*db, "marble").empty());
  EXPECT_OK(db->CheckIntegrity());  // includes FTS5's own integrity check
  ASSERT_OK_AND_ASSIGN(finished, db->FinishBulkLoad());
  EXPECT_FALSE(finished);  // nothing pending
}

TEST_F(BulkLoadTest, FinishLeavesOneTextSegmentAndTheMergeSettingAsItWas) {
  const std::string kSegments = "SELECT count(DISTINCT segid) FROM nodes_fts_idx";
  const std::string kAutomerge = "SELECT v FROM nodes_fts_config WHERE k = 'automerge'";
  { auto db = OpenDb(); }
  RawScalar(dir_.path(), "INSERT INTO nodes_fts(nodes_fts, rank) VALUES ('automerge', 7)");
  auto db = OpenDb();
  ASSERT_TRUE(db);
  // Nodes written one transaction each before the load: one segment each.
  for (int i = 0; i < 5; ++i) Add(*db, "old-" + std::to_string(i), "pumice stone");
  EXPECT_GT(std::stoi(RawScalar(dir_.path(), kSegments)), 1);
  ASSERT_OK(db->BeginBulkLoad());
  // Enough distinct terms that the rebuild alone writes several segments
  // (FTS5 flushes its in-memory terms every megabyte or so).
  WriteBatch batch;
  for (int i = 0; i < 8000; ++i) {
    NewNode n;
    n.id = "new-" + std::to_string(i);
    n.node_type = "text";
    for (int j = 0; j < 10; ++j)
      n.content += "t" + std::to_string(i) + "x" + std::to_string(j) + " ";
    batch.Create(std::move(n));
  }
  ASSERT_OK(db->Write(batch).status());
  ASSERT_OK_AND_ASSIGN(bool finished, db->FinishBulkLoad());
  EXPECT_TRUE(finished);
  EXPECT_EQ(RawScalar(dir_.path(), kSegments), "1");
  EXPECT_EQ(RawScalar(dir_.path(), kAutomerge), "7");
  EXPECT_EQ(TextIds(*db, "pumice").size(), 5u);
  EXPECT_EQ(TextIds(*db, "t7999x9"), std::vector<std::string>{"new-7999"});
  EXPECT_OK(db->CheckIntegrity());

  EXPECT_FALSE(Logged(kRebuildLogged));  // built while the rows committed

  // The rebuild after an edit during the load (see the test above) merges
  // into one segment too, and gives a database that never set the merge
  // setting FTS5's default back.
  RawScalar(dir_.path(), "DELETE FROM nodes_fts_config WHERE k = 'automerge'");
  ASSERT_OK(db->BeginBulkLoad());
  Add(*db, "late", "scoria");
  ASSERT_OK_AND_ASSIGN(Node old0, db->Get("old-0"));
  NodePatch patch;
  patch.content = "pumice dust";
  ASSERT_TRUE(db->Update("old-0", patch, old0.version).ok());
  for (int i = 0; i < 8000; ++i) Add(*db, "more-" + std::to_string(i), "q" + std::to_string(i));
  ASSERT_OK_AND_ASSIGN(finished, db->FinishBulkLoad());
  EXPECT_TRUE(Logged(kRebuildLogged));
  EXPECT_EQ(RawScalar(dir_.path(), kSegments), "1");
  EXPECT_EQ(RawScalar(dir_.path(), kAutomerge), "4");
  EXPECT_EQ(TextIds(*db, "dust"), std::vector<std::string>{"old-0"});
  EXPECT_OK(db->CheckIntegrity());
}

TEST_F(BulkLoadTest, TextBuiltWhileTheRowsCommitIsTheIndexOfTheTable) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  Add(*db, "old-1", "granite quarry");
  Add(*db, "old-2", "granite boulder");
  ASSERT_OK(db->BeginBulkLoad());
  // Batches committed over time, as an import commits them: the build
  // follows while they arrive and after the last one.
  for (int b = 0; b < 6; ++b) {
    WriteBatch batch;
    for (int i = 0; i < 3000; ++i) {
      NewNode n;
      n.id = "b" + std::to_string(b) + "-" + std::to_string(i);
      n.node_type = "text";
      n.content = "basalt layer " + std::to_string(b) + " item w" + std::to_string(i);
      batch.Create(std::move(n));
    }
    ASSERT_OK(db->Write(batch).status());
    if (b % 2 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  ASSERT_OK_AND_ASSIGN(bool finished, db->FinishBulkLoad());
  EXPECT_TRUE(finished);
  EXPECT_FALSE(Logged(kRebuildLogged));
  EXPECT_FALSE(ScratchFileExists());
  // FTS5's integrity check reads every row of the content table and
  // compares its tokens with the index.
  EXPECT_OK(db->CheckIntegrity());
  EXPECT_EQ(RawScalar(dir_.path(), "SELECT count(DISTINCT segid) FROM nodes_fts_idx"), "1");
  // The handle that copied the index in is gone; this one (and the writer
  // it searched through during the load) sees the new index.
  EXPECT_EQ(TextIds(*db, "granite"), (std::vector<std::string>{"old-1", "old-2"}));
  EXPECT_EQ(TextIds(*db, "w2999").size(), 6u);
  EXPECT_EQ(TextIds(*db, "basalt").size(), 100u);  // the search's limit
  // Titles (derived for roots) are indexed as the rows hold them.
  EXPECT_EQ(RawScalar(dir_.path(),
                      "SELECT count(*) FROM nodes_fts WHERE nodes_fts MATCH 'title : basalt'"),
            "18000");
  // Later writes go through the triggers again, into the copied index.
  Add(*db, "after", "obsidian");
  EXPECT_EQ(TextIds(*db, "obsidian"), std::vector<std::string>{"after"});
  EXPECT_OK(db->CheckIntegrity());
}

TEST_F(BulkLoadTest, TheNextOpenFinishesALoadWhoseHandleWentAway) {
  const std::set<std::string> before = LeaveALoadUnfinished();
  EXPECT_NE(SchemaObjects(dir_.path()), before);
  EXPECT_FALSE(ScratchFileExists());  // the handle stopped its text build
  ExpectTheNextOpenFinishesIt(before);
}

// FinishBulkLoad re-creates the deferred indexes in a first transaction
// (while the text build merges its segments) and installs the text index in
// a second. A process killed between the two leaves the key listing only
// the full-text triggers; the next open finishes from there.
TEST_F(BulkLoadTest, TheNextOpenFinishesALoadKilledBetweenItsTwoLastTransactions) {
  const std::set<std::string> before = LeaveALoadUnfinished();
  // What the first transaction leaves, made by hand on the file.
  const nlohmann::json saved = nlohmann::json::parse(
      RawScalar(dir_.path(), "SELECT value FROM meta WHERE key = 'bulk_load'"));
  ASSERT_TRUE(saved.is_array());
  nlohmann::json rest = nlohmann::json::array();
  int indexes = 0;
  for (const nlohmann::json& object : saved) {
    if (object["type"] == "index") {
      RawColumn(dir_.path(), object["sql"].get<std::string>());
      ++indexes;
    } else {
      rest.push_back(object);
    }
  }
  ASSERT_GT(indexes, 0);
  ASSERT_FALSE(rest.empty());
  std::string quoted;  // an SQL string literal
  for (char c : rest.dump()) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  RawColumn(dir_.path(), "UPDATE meta SET value = '" + quoted + "' WHERE key = 'bulk_load'");
  ASSERT_EQ(RawScalar(dir_.path(), "SELECT value FROM meta WHERE key = 'bulk_load'"), rest.dump());
  ExpectTheNextOpenFinishesIt(before);
}

TEST_F(BulkLoadTest, ARowCommittedBetweenTheTwoLastTransactionsIsIndexedToo) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  ASSERT_OK(db->BeginBulkLoad());
  for (int i = 0; i < 20; ++i) Add(*db, "n" + std::to_string(i), "obsidian shard");
  // Another handle writes a row after the first transaction checked the
  // rows, while the full-text triggers are still missing: the text index
  // built during the load does not have it.
  test_hooks::between_bulk_load_finish_transactions = [this] {
    auto other = OpenDb();
    ASSERT_TRUE(other);
    Add(*other, "intruder", "pumice intruder");
  };
  Result<bool> finished = db->FinishBulkLoad();
  test_hooks::between_bulk_load_finish_transactions = nullptr;
  ASSERT_OK(finished.status());
  EXPECT_TRUE(*finished);
  // The second transaction saw the commit, checked the rows again and fell
  // back to rebuilding the index from the table.
  EXPECT_TRUE(Logged(kRebuildLogged));
  EXPECT_EQ(TextIds(*db, "pumice"), std::vector<std::string>{"intruder"});
  EXPECT_EQ(TextIds(*db, "obsidian").size(), 20u);
  EXPECT_OK(db->CheckIntegrity());
}

TEST_F(BulkLoadTest, AnotherHandleLeavesARunningLoadAlone) {
  auto loader = OpenDb();
  ASSERT_TRUE(loader);
  ASSERT_OK(loader->BeginBulkLoad());
  Add(*loader, "a", "pumice stone");

  auto other = OpenDb();  // a second process would see the same
  ASSERT_TRUE(other);
  ASSERT_OK_AND_ASSIGN(bool pending, other->BulkLoadPending());
  EXPECT_TRUE(pending);  // not finished behind the loader's back
  Status busy = other->BeginBulkLoad();
  EXPECT_EQ(busy.code(), StatusCode::kBusy) << busy.ToString();
  EXPECT_EQ(other->FinishBulkLoad().status().code(), StatusCode::kBusy);
  Add(*other, "b", "pumice dust");  // its writes are covered by the loader's rebuild

  ASSERT_OK_AND_ASSIGN(bool finished, loader->FinishBulkLoad());
  EXPECT_TRUE(finished);
  EXPECT_EQ(TextIds(*other, "pumice"), (std::vector<std::string>{"a", "b"}));
  EXPECT_OK(other->CheckIntegrity());
}

TEST_F(BulkLoadTest, TheScalingManagerWaitsForTheLoadToFinish) {
  Options o;
  ScalingOptions& s = o.scaling;
  s.interval_ms = 10;
  s.thresholds.avg_query_latency_ms = 1e12;
  s.thresholds.optimize_indexing_nodes = 20;
  s.thresholds.partitioning_nodes = 1LL << 60;
  s.thresholds.tiered_storage_bytes = 1LL << 60;
  s.thresholds.vector_latency_ms = 1e12;
  s.thresholds.dedicated_vector_db_vectors = 1LL << 60;
  s.thresholds.memory_mb = 1LL << 40;
  auto opened = Database::Open(dir_.path(), o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<Database> db = std::move(opened).value();
  auto optimized = [&db] {
    auto history = db->ScalingHistory();
    EXPECT_TRUE(history.ok());
    if (!history.ok()) return false;
    return std::any_of(history->begin(), history->end(), [](const ScalingEvent& e) {
      return e.action == OptimizationAction::kOptimizeIndexing;
    });
  };
  ASSERT_OK(db->BeginBulkLoad());
  for (int i = 0; i < 40; ++i) Add(*db, "n" + std::to_string(i), "granite");
  // Thirty intervals with the trigger's condition met: nothing acts.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(optimized());
  ASSERT_OK(db->FinishBulkLoad().status());
  for (int i = 0; i < 1000 && !optimized(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(optimized());
}

// Every node's place in the tree: id, parent and sibling order key, by id.
std::vector<std::string> Placement(const std::string& db_dir) {
  return RawColumn(db_dir,
                   "SELECT id || ' ' || parent_id || ' ' || order_key || ' ' || node_type "
                   "FROM nodes ORDER BY id");
}

// The change log without its times: sequence number, operation, node,
// version and payload, in order.
std::vector<std::string> ChangeLog(const std::string& db_dir) {
  return RawColumn(db_dir,
                   "SELECT seq || ' ' || op || ' ' || node_id || ' ' || version || ' ' || payload "
                   "FROM changes ORDER BY seq");
}

// An import with a real shape: parents before and after their children,
// date parents made on demand, duplicate ids, unknown parents, bad lines.
std::string MixedImport(int nodes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::ostringstream in;
  for (int i = 0; i < nodes; ++i) {
    const uint32_t r = rng() % 100;
    std::string parent;
    if (i > 0 && r < 70) {
      parent = "n" + std::to_string(rng() % i);  // an earlier node (maybe a rejected one)
    } else if (r < 75) {
      parent = "2024-05-0" + std::to_string(1 + rng() % 3);  // created on first use
    } else if (r < 78) {
      parent = "n" + std::to_string(i + 1 + rng() % 50);  // later in the file: unknown now
    } else if (r < 80) {
      parent = "nowhere";
    }
    const std::string id = r >= 97 && i > 0 ? "n" + std::to_string(rng() % i)  // a duplicate
                                            : "n" + std::to_string(i);
    if (r == 96) {
      in << "{not json\n";
      continue;
    }
    in << R"({"id":")" << id << R"(",)";
    if (!parent.empty()) in << R"("parent_id":")" << parent << R"(",)";
    in << R"("content":"granite note )" << i << R"("})"
       << "\n";
  }
  return in.str();
}

TEST_F(BulkLoadTest, ABulkLoadPlacesAndRejectsExactlyWhatARowByRowImportDoes) {
  for (const bool prefilled : {false, true}) {
    SCOPED_TRACE(prefilled ? "into a database that holds nodes" : "into an empty database");
    const std::string input = MixedImport(3000, prefilled ? 7 : 3);
    std::vector<std::vector<std::string>> placements, errors, change_logs;
    for (const bool bulk : {false, true}) {
      TempDir dir;
      auto opened = Database::Open(dir.path(), Options{});
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      std::unique_ptr<Database> db = std::move(opened).value();
      if (prefilled) {
        // Nodes the load's memory never saw: it must ask the table.
        for (int i = 0; i < 200; i += 3) Add(*db, "n" + std::to_string(i * 7), "pre");
        Add(*db, "2024-05-02", "made before", "date");
      }
      io::ImportOptions options;
      options.bulk_load = bulk;
      options.batch_size = 450;
      io::ImportCallbacks cb;
      std::vector<std::string> reported;
      cb.on_error = [&](const std::string& msg) { reported.push_back(msg); };
      std::istringstream in(input);
      ASSERT_OK(io::ImportJsonl(*db, in, options, cb).status());
      EXPECT_OK(db->CheckIntegrity());
      placements.push_back(Placement(dir.path()));
      errors.push_back(reported);
      change_logs.push_back(ChangeLog(dir.path()));
    }
    EXPECT_GT(errors[0].size(), 100u);
    EXPECT_EQ(placements[0], placements[1]);
    EXPECT_EQ(errors[0], errors[1]);
    // The load's change rows, held back and inserted many at a time, are
    // numbered as the row-by-row import's.
    EXPECT_EQ(change_logs[0], change_logs[1]);
  }
}

// Every column of every node row (a date node's times are the clock's), and
// the edges.
std::vector<std::string> NodeRows(const std::string& db_dir) {
  std::vector<std::string> rows = RawColumn(
      db_dir,
      "SELECT rowid || '|' || id || '|' || parent_id || '|' || order_key || '|' || node_type || "
      "'|' || content || '|' || title || '|' || properties || '|' || lifecycle || '|' || "
      "version || '|' || iif(node_type = 'date', 0, created_at) || '|' || "
      "iif(node_type = 'date', 0, modified_at) || '|' || ifnull(hex(embedding), 'null') || "
      "'|' || partition_id FROM nodes ORDER BY rowid");
  for (std::string& edge :
       RawColumn(db_dir,
                 "SELECT from_id || ' ' || type || ' ' || to_id || ' ' || properties "
                 "FROM edges ORDER BY from_id, type, to_id")) {
    rows.push_back(std::move(edge));
  }
  return rows;
}

// What a batch wrote into a new database, inside a load or not.
struct WrittenBatch {
  std::vector<StatusCode> codes;  // each operation's
  int64_t last_change_seq = 0;
  std::vector<std::string> change_log;
  std::vector<std::string> node_rows;
};

WrittenBatch WriteInNewDatabase(const WriteBatch& batch, const WriteOptions& options, bool bulk) {
  WrittenBatch out;
  TempDir dir;
  auto opened = Database::Open(dir.path(), Options{});
  if (!opened.ok()) {
    ADD_FAILURE() << opened.status().ToString();
    return out;
  }
  std::unique_ptr<Database> db = std::move(opened).value();
  if (bulk) EXPECT_OK(db->BeginBulkLoad());
  Result<BatchResult> result = db->Write(batch, options);
  if (!result.ok()) {
    ADD_FAILURE() << result.status().ToString();
    return out;
  }
  for (const auto& r : result->results) out.codes.push_back(r.status.code());
  out.last_change_seq = result->last_change_seq;
  if (bulk) EXPECT_OK(db->FinishBulkLoad().status());
  out.change_log = ChangeLog(dir.path());
  out.node_rows = NodeRows(dir.path());
  EXPECT_OK(db->CheckIntegrity());
  return out;
}

TEST_F(BulkLoadTest, ABatchOfALoadLogsItsChangesAsAPlainBatchDoes) {
  // Creates past a statement's worth of change rows, failures that wrote
  // nothing, and either an update among them (the rows held go in before
  // it) or, near the end, a create that fails after its date parent was
  // written (the batch is replayed with a savepoint per operation, and the
  // rows held for the first pass are dropped).
  auto make_batch = [](bool replayed) {
    WriteBatch batch;
    auto create = [&](const std::string& id, const std::string& parent,
                      Position position = Position::Last()) {
      NewNode n;
      n.id = id;
      n.parent_id = parent;
      n.content = "basalt " + id;
      n.position = std::move(position);
      batch.Create(std::move(n));
    };
    create("root", "");
    for (int i = 0; i < 150; ++i) create("c" + std::to_string(i), i % 3 == 0 ? "" : "root");
    if (!replayed) {
      NodePatch patch;
      patch.content = "basalt edited";
      batch.Update("c5", patch);
    }
    for (int i = 150; i < 300; ++i) {
      create("c" + std::to_string(i), i % 7 == 0 ? "2024-06-0" + std::to_string(1 + i % 2) : "c1");
      if (i % 40 == 0) create("c" + std::to_string(i), "");         // a duplicate id
      if (i % 50 == 0) create("x" + std::to_string(i), "nowhere");  // an unknown parent
    }
    if (replayed) create("late", "2024-07-01", Position::Before("missing"));
    for (int i = 300; i < 310; ++i) create("c" + std::to_string(i), "root");
    return batch;
  };
  WriteOptions options;
  options.atomic = false;
  for (const bool replayed : {false, true}) {
    SCOPED_TRACE(replayed ? "replayed with savepoints" : "in one pass");
    const WrittenBatch plain = WriteInNewDatabase(make_batch(replayed), options, false);
    const WrittenBatch loaded = WriteInNewDatabase(make_batch(replayed), options, true);
    for (const WrittenBatch* written : {&plain, &loaded}) {
      EXPECT_EQ(written->last_change_seq, static_cast<int64_t>(written->change_log.size()));
    }
    // 311 creates, 2 date parents and, in one pass, the update (replayed:
    // not the date node of the create that failed after writing it).
    EXPECT_EQ(plain.change_log.size(), replayed ? 313u : 314u);
    EXPECT_EQ(plain.change_log, loaded.change_log);
    EXPECT_EQ(plain.codes, loaded.codes);
    EXPECT_EQ(std::count(loaded.codes.begin(), loaded.codes.end(), StatusCode::kNotFound),
              replayed ? 4 : 3);
    EXPECT_EQ(std::count(loaded.codes.begin(), loaded.codes.end(), StatusCode::kAlreadyExists), 4);
  }
}

TEST_F(BulkLoadTest, ABatchOfALoadWritesTheNodeRowsAPlainBatchDoes) {
  // A load's batch holds node rows back and inserts them many to a
  // statement. Among the held creates, each thing that must see the rows
  // held: a schema node and nodes of its type (two failing its validation,
  // one after another failure made the batch read the schemas again), a
  // node with an embedding (stored by rowid), edges to nodes just created,
  // creates placed first and before a sibling, date parents, creates that
  // fail before writing. Replayed: an edge that fails after the rows held
  // went in and a create that fails after its date parent was written (the
  // batch runs again with a savepoint per operation; the rows held for the
  // first pass are dropped). The tables must come out row for row as a
  // plain batch writes them.
  auto make_batch = [](bool replayed) {
    WriteBatch batch;
    int64_t clock = 1700000000000;
    auto create = [&](const std::string& id, const std::string& parent,
                      Position position = Position::Last(), std::string type = "text",
                      std::string properties = "{}", std::vector<float> embedding = {}) {
      NewNode n;
      n.id = id;
      n.parent_id = parent;
      n.node_type = std::move(type);
      n.content = "granite " + id;
      n.properties = std::move(properties);
      n.position = std::move(position);
      n.embedding = std::move(embedding);
      n.created_at = clock++;
      batch.Create(std::move(n));
    };
    create("root", "");
    for (int i = 0; i < 100; ++i) create("a" + std::to_string(i), i % 4 == 0 ? "" : "root");
    create("book-schema", "", Position::Last(), "schema",
           R"({"schema":{"for":"book","fields":{"pages":{"type":"integer","required":true}}}})");
    create("dune", "root", Position::Last(), "book", R"({"book":{"pages":412}})");
    create("bad-book", "root", Position::Last(), "book", R"({"book":{"pages":"many"}})");  // fails
    // After a failure the next validation reads the schemas from the table.
    create("bad-book-2", "root", Position::Last(), "book", "{}");  // fails
    create("vec", "a1", Position::Last(), "text", "{}", {0.5f, 0.25f, 0.125f});
    for (int i = 100; i < 170; ++i) create("a" + std::to_string(i), "a" + std::to_string(i - 50));
    batch.AddEdge({"a169", "a168", "related", "{}"});  // both held
    create("first", "root", Position::First());
    create("before", "root", Position::Before("a5"));
    for (int i = 170; i < 240; ++i) {
      create("a" + std::to_string(i), i % 9 == 0 ? "2024-08-0" + std::to_string(1 + i % 3) : "a2");
      if (i % 60 == 0) create("a" + std::to_string(i - 1), "");     // a duplicate id
      if (i % 70 == 0) create("y" + std::to_string(i), "nowhere");  // an unknown parent
    }
    batch.AddEdge({"a239", "a238", "related", "{}"});
    if (replayed) {
      batch.AddEdge({"a169", "nowhere", "related", "{}"});  // fails after writing the rows held
      create("late", "2024-09-01", Position::Before("missing"));
    }
    for (int i = 240; i < 330; ++i) create("a" + std::to_string(i), "a" + std::to_string(i % 7));
    return batch;
  };
  WriteOptions options;
  options.atomic = false;
  for (const bool replayed : {false, true}) {
    SCOPED_TRACE(replayed ? "replayed with savepoints" : "in one pass");
    const WrittenBatch plain = WriteInNewDatabase(make_batch(replayed), options, false);
    const WrittenBatch loaded = WriteInNewDatabase(make_batch(replayed), options, true);
    EXPECT_EQ(plain.node_rows, loaded.node_rows);
    EXPECT_EQ(plain.codes, loaded.codes);
    // The schema applied to the creates after it in the same batch.
    EXPECT_EQ(std::count(loaded.codes.begin(), loaded.codes.end(), StatusCode::kInvalidArgument),
              2);
    EXPECT_EQ(std::count(loaded.codes.begin(), loaded.codes.end(), StatusCode::kAlreadyExists), 1);
    // Most of the batch went in (the tables are compared whole above), the
    // book with its schema's field among it.
    EXPECT_GT(loaded.node_rows.size(), 330u);
    EXPECT_NE(std::find_if(loaded.node_rows.begin(), loaded.node_rows.end(),
                           [](const std::string& row) {
                             return row.find("|dune|root|") != std::string::npos &&
                                    row.find("|book|") != std::string::npos;
                           }),
              loaded.node_rows.end());
  }
}

// The ids of `parent`'s children in sibling order.
std::vector<std::string> ChildOrder(const Database& db, const std::string& parent) {
  auto children = parent.empty() ? db.Roots() : db.Children(parent);
  EXPECT_TRUE(children.ok()) << children.status().ToString();
  std::vector<std::string> order;
  if (children.ok()) {
    for (const Node& n : *children) order.push_back(n.id);
  }
  return order;
}

TEST_F(BulkLoadTest, WritesTheLoadDidNotMakeAreSeenByItsLaterCreates) {
  auto loader = OpenDb();
  ASSERT_TRUE(loader);
  ASSERT_OK(loader->BeginBulkLoad());
  auto create_batch = [&](std::vector<std::pair<std::string, std::string>> nodes) {
    WriteBatch batch;
    for (auto& [id, parent] : nodes) {
      NewNode n;
      n.id = id;
      n.parent_id = parent;
      n.content = id;
      batch.Create(std::move(n));
    }
    WriteOptions o;
    o.atomic = false;
    auto r = loader->Write(batch, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<StatusCode> codes;
    if (r.ok()) {
      for (const auto& op : r->results) codes.push_back(op.status.code());
    }
    return codes;
  };
  create_batch({{"p", ""}, {"q", ""}, {"a", "p"}, {"b", "p"}});

  // Another handle (as another process would) deletes a node the load wrote
  // and appends a child to one of its parents.
  {
    auto other = OpenDb();
    ASSERT_TRUE(other);
    ASSERT_OK_AND_ASSIGN(Node q, other->Get("q"));
    ASSERT_OK(other->Delete("q", q.version).status());
    NewNode late;
    late.id = "late";
    late.parent_id = "p";
    late.content = "appended by another writer";
    ASSERT_OK(other->Create(late).status());
  }
  EXPECT_EQ(create_batch({{"c", "p"}, {"under-q", "q"}, {"q", ""}}),
            (std::vector<StatusCode>{StatusCode::kOk, StatusCode::kNotFound, StatusCode::kOk}));
  EXPECT_EQ(ChildOrder(*loader, "p"), (std::vector<std::string>{"a", "b", "late", "c"}));

  // Only this process writes now: a move of b behind d, which the load
  // remembered as p's last child, then an append.
  EXPECT_EQ(create_batch({{"d", "p"}}), std::vector<StatusCode>{StatusCode::kOk});
  ASSERT_OK_AND_ASSIGN(Node b, loader->Get("b"));
  WriteBatch move_b;
  move_b.Move("b", "p", Position::Last(), b.version);
  ASSERT_OK(loader->Write(move_b).status());
  EXPECT_EQ(create_batch({{"e", "p"}}), std::vector<StatusCode>{StatusCode::kOk});
  EXPECT_EQ(ChildOrder(*loader, "p"), (std::vector<std::string>{"a", "late", "c", "d", "b", "e"}));

  ASSERT_OK_AND_ASSIGN(bool finished, loader->FinishBulkLoad());
  EXPECT_TRUE(finished);
  EXPECT_OK(loader->CheckIntegrity());
}

TEST_F(BulkLoadTest, ANodeMadeOutsideABatchIsSeenByTheLoadsLaterCreates) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  ASSERT_OK(db->BeginBulkLoad());  // into an empty table: the load knows every row
  Add(*db, "r1", "first root");
  // A collection root, created by a write that is not a batch of creates.
  ASSERT_OK(db->AddToCollection("r1", "work"));
  Add(*db, "r2", "second root");
  ASSERT_OK(db->FinishBulkLoad().status());
  ASSERT_OK_AND_ASSIGN(std::vector<Node> roots, db->Roots());
  std::vector<std::string> order;
  for (const Node& n : roots) order.push_back(n.node_type == "collection" ? "work" : n.id);
  EXPECT_EQ(order, (std::vector<std::string>{"r1", "work", "r2"}));
  EXPECT_OK(db->CheckIntegrity());
}

// The objects meta `bulk_load` still lists, by name.
std::set<std::string> StillDeferred(const std::string& db_dir) {
  const std::string value = RawScalar(db_dir, "SELECT value FROM meta WHERE key = 'bulk_load'");
  std::set<std::string> names;
  if (value.empty()) return names;
  for (const nlohmann::json& object : nlohmann::json::parse(value)) names.insert(object["name"]);
  return names;
}

WriteBatch Creates(const std::vector<std::pair<std::string, std::string>>& nodes) {
  WriteBatch batch;
  for (const auto& [id, parent] : nodes) {
    NewNode n;
    n.id = id;
    n.parent_id = parent;
    n.content = "scoria " + id;
    batch.Create(std::move(n));
  }
  return batch;
}

TEST_F(BulkLoadTest, ALoadIntoAnEmptyTableDefersTheSiblingOrderIndexToo) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  const std::set<std::string> before = SchemaObjects(dir_.path());
  ASSERT_TRUE(before.count("index:nodes_by_parent"));
  ASSERT_OK(db->BeginBulkLoad());
  EXPECT_FALSE(SchemaObjects(dir_.path()).count("index:nodes_by_parent"));
  EXPECT_TRUE(StillDeferred(dir_.path()).count("nodes_by_parent"));
  // Appends in batches of creates, as an import writes them: the memo
  // answers every parent's last key, and the index stays deferred.
  ASSERT_OK(db->Write(Creates({{"p", ""}, {"a", "p"}, {"q", ""}, {"b", "p"}})).status());
  ASSERT_OK(db->Write(Creates({{"c", "p"}, {"x", "q"}, {"y", "x"}, {"r", ""}})).status());
  EXPECT_FALSE(SchemaObjects(dir_.path()).count("index:nodes_by_parent"));
  // Reads stay correct meanwhile (they scan the table).
  EXPECT_EQ(ChildOrder(*db, "p"), (std::vector<std::string>{"a", "b", "c"}));

  ASSERT_OK_AND_ASSIGN(bool finished, db->FinishBulkLoad());
  EXPECT_TRUE(finished);
  EXPECT_EQ(SchemaObjects(dir_.path()), before);
  EXPECT_NE(QueryPlan(dir_.path(), "SELECT id FROM nodes WHERE parent_id = 'p' ORDER BY order_key")
                .find("nodes_by_parent"),
            std::string::npos);
  EXPECT_EQ(ChildOrder(*db, ""), (std::vector<std::string>{"p", "q", "r"}));
  EXPECT_EQ(ChildOrder(*db, "p"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(ChildOrder(*db, "x"), std::vector<std::string>{"y"});
  EXPECT_OK(db->CheckIntegrity());
}

// A write that reads children while the index is deferred builds it first,
// in the same transaction, and the load then ends as usual: a create placed
// other than last, a move, a delete, in this handle or another, and a
// partition split (whose plan walks every tree by parent).
TEST_F(BulkLoadTest, AWriteThatReadsChildrenBuildsTheDeferredSiblingIndexFirst) {
  const std::vector<std::string> kinds = {"create first", "move", "delete", "another handle",
                                          "partition split"};
  for (const std::string& kind : kinds) {
    SCOPED_TRACE(kind);
    TempDir dir;
    Options options;
    options.info_log = [this](std::string_view line) {
      std::lock_guard lock(log_mu_);
      log_.emplace_back(line);
    };
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Database> db, Database::Open(dir.path(), options));
    const std::set<std::string> before = SchemaObjects(dir.path());
    ASSERT_OK(db->BeginBulkLoad());
    ASSERT_OK(db->Write(Creates({{"p", ""}, {"a", "p"}, {"b", "p"}, {"c", "b"}})).status());
    ASSERT_FALSE(SchemaObjects(dir.path()).count("index:nodes_by_parent"));
    std::vector<std::string> expected;
    if (kind == "create first") {
      NewNode n;
      n.id = "first";
      n.parent_id = "p";
      n.content = "placed first";
      n.position = Position::First();
      WriteBatch batch;
      batch.Create(std::move(n));
      ASSERT_OK(db->Write(batch).status());
      expected = {"first", "a", "b"};
    } else if (kind == "move") {
      ASSERT_OK_AND_ASSIGN(Node a, db->Get("a"));
      ASSERT_OK(db->Move("a", "p", Position::After("b"), a.version).status());
      expected = {"b", "a"};
    } else if (kind == "delete") {
      ASSERT_OK_AND_ASSIGN(Node b, db->Get("b"));
      ASSERT_OK(db->Delete("b", b.version).status());
      EXPECT_FALSE(db->Get("c").ok());  // the subtree went with it
      expected = {"a"};
    } else if (kind == "partition split") {
      ASSERT_OK_AND_ASSIGN(ScalingEvent split,
                           db->ApplyScalingAction(OptimizationAction::kEnablePartitioning));
      EXPECT_EQ(split.result, "applied") << split.message;
      expected = {"a", "b"};
    } else {
      ASSERT_OK_AND_ASSIGN(std::unique_ptr<Database> other, Database::Open(dir.path(), options));
      ASSERT_OK_AND_ASSIGN(Node a, other->Get("a"));
      ASSERT_OK(other->Move("a", "p", Position::After("b"), a.version).status());
      expected = {"b", "a"};
    }
    EXPECT_TRUE(SchemaObjects(dir.path()).count("index:nodes_by_parent"));
    EXPECT_FALSE(StillDeferred(dir.path()).count("nodes_by_parent"));
    EXPECT_FALSE(StillDeferred(dir.path()).empty());  // the rest waits for the end
    // Appends after it find their keys through the index or the memo alike.
    ASSERT_OK(db->Write(Creates({{"z", "p"}})).status());
    expected.push_back("z");
    EXPECT_EQ(ChildOrder(*db, "p"), expected);
    ASSERT_OK_AND_ASSIGN(bool finished, db->FinishBulkLoad());
    EXPECT_TRUE(finished);
    EXPECT_EQ(SchemaObjects(dir.path()), before);
    EXPECT_EQ(ChildOrder(*db, "p"), expected);
    EXPECT_OK(db->CheckIntegrity());
  }
  EXPECT_TRUE(Logged("building the parent index now"));
}

TEST_F(BulkLoadTest, ALoadIntoATableWithRowsKeepsTheSiblingOrderIndex) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  Add(*db, "old", "there before the load");
  ASSERT_OK(db->BeginBulkLoad());
  EXPECT_TRUE(SchemaObjects(dir_.path()).count("index:nodes_by_parent"));
  EXPECT_FALSE(StillDeferred(dir_.path()).count("nodes_by_parent"));
  ASSERT_OK(db->FinishBulkLoad().status());
}

// Siblings under one key cannot come from the engine's writes, but a row
// changed past it can make them; the load still ends, renumbering them (as
// logged moves), whichever way it ends.
TEST_F(BulkLoadTest, SiblingsLeftUnderOneKeyAreRenumberedWhenTheLoadEnds) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  const std::set<std::string> before = SchemaObjects(dir_.path());
  ASSERT_OK(db->BeginBulkLoad());
  ASSERT_OK(db->Write(Creates({{"p", ""}, {"a", "p"}, {"b", "p"}, {"c", "p"}})).status());
  RawScalar(dir_.path(),
            "UPDATE nodes SET order_key = (SELECT order_key FROM nodes WHERE id = 'a') "
            "WHERE id = 'c'");
  ASSERT_EQ(RawScalar(dir_.path(),
                      "SELECT count(DISTINCT order_key) FROM nodes "
                      "WHERE parent_id = 'p'"),
            "2");
  ASSERT_OK_AND_ASSIGN(bool finished, db->FinishBulkLoad());
  EXPECT_TRUE(finished);
  EXPECT_EQ(SchemaObjects(dir_.path()), before);
  EXPECT_TRUE(Logged("their children were renumbered"));
  std::vector<std::string> order = ChildOrder(*db, "p");
  std::sort(order.begin(), order.end());
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(RawScalar(dir_.path(),
                      "SELECT count(*) FROM changes WHERE payload LIKE '%\"renumber\":true%'"),
            "3");
  EXPECT_FALSE(Logged(kRebuildLogged));  // the text built during the load still holds
  EXPECT_OK(db->CheckIntegrity());
}

// A load its process left: the next open ends it the same way.
TEST_F(BulkLoadTest, SiblingsUnderOneKeyInALoadLeftUnfinishedAreRenumberedByTheNextOpen) {
  const std::set<std::string> before = LeaveALoadUnfinished();
  RawScalar(dir_.path(),
            "UPDATE nodes SET order_key = (SELECT order_key FROM nodes WHERE id = 'n0') "
            "WHERE id = 'n1'");
  ExpectTheNextOpenFinishesIt(before);
  EXPECT_TRUE(Logged("their children were renumbered"));
  auto db = OpenDb();
  ASSERT_TRUE(db);
  EXPECT_EQ(ChildOrder(*db, "").size(), 20u);
}

TEST_F(BulkLoadTest, ImportWithBulkLoadEndsSearchableEvenWithBadLines) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  std::stringstream in;
  in << R"({"id":"r","content":"root of the pumice notes"})"
     << "\n";
  for (int i = 0; i < 30; ++i) {
    in << R"({"id":"c)" << i << R"(","parent_id":"r","content":"pumice child )" << i << R"("})"
       << "\n";
  }
  in << "{not json\n";
  in << R"({"id":"c5","parent_id":"r","content":"duplicate id"})"
     << "\n";
  io::ImportOptions options;
  options.bulk_load = true;
  options.batch_size = 7;
  ASSERT_OK_AND_ASSIGN(io::ImportSummary summary, io::ImportJsonl(*db, in, options));
  EXPECT_EQ(summary.nodes, 31u);
  EXPECT_EQ(summary.errors, 2u);
  ASSERT_OK_AND_ASSIGN(bool pending, db->BulkLoadPending());
  EXPECT_FALSE(pending);
  EXPECT_EQ(TextIds(*db, "pumice").size(), 31u);
  EXPECT_OK(db->CheckIntegrity());
}

}  // namespace
}  // namespace nodespace
