// Backup, Restore, RestoreInPlace and Fingerprint (src/db/database_backup.cc).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "db/database_impl.h"
#include "nodespace/database.h"
#include "storage/schema.h"
#include "storage/sqlite.h"
#include "test_util.h"

namespace nodespace {
namespace {

namespace fs = std::filesystem;

NewNode Make(const std::string& id, const std::string& parent_id = "",
             const std::string& content = "") {
  NewNode n;
  n.id = id;
  n.parent_id = parent_id;
  n.content = content.empty() ? "content of " + id : content;
  return n;
}

std::unique_ptr<Database> OpenDb(const std::string& path, const Options& options = {}) {
  auto r = Database::Open(path, options);
  EXPECT_TRUE(r.ok()) << path << ": " << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

DatabaseFingerprint FingerprintOf(const Database& db) {
  auto r = db.Fingerprint();
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : DatabaseFingerprint{};
}

// Fingerprint of the database in `path`, opened just for this.
DatabaseFingerprint FingerprintAt(const std::string& path) {
  std::unique_ptr<Database> db = OpenDb(path);
  return db ? FingerprintOf(*db) : DatabaseFingerprint{};
}

std::set<std::string> FilesIn(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.insert(fs::relative(e.path(), dir).string());
  }
  return out;
}

std::set<std::string> EntriesIn(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Nodes in a tree, edges (mentions and user edges), embeddings.
void Populate(Database& db, int nodes = 40) {
  ASSERT_GE(nodes, 4);
  ASSERT_TRUE(db.Create(Make("root", "", "# Root")).ok());
  WriteBatch batch;
  for (int i = 0; i < nodes; ++i) {
    NewNode n = Make("n" + std::to_string(i), i % 4 == 0 ? "root" : "n" + std::to_string(i - 1),
                     "note " + std::to_string(i) + " mentions [[root]] " + std::string(200, 'x'));
    n.embedding = {1.0F + static_cast<float>(i), 0.5F, -0.25F * static_cast<float>(i % 3), 2.0F};
    n.properties = R"({"i": )" + std::to_string(i) + "}";
    batch.Create(n);
  }
  auto written = db.Write(batch);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  ASSERT_OK(db.AddEdge({"n1", "n2", "related", R"({"weight": 2})"}));
  ASSERT_OK(db.AddEdge({"n3", "n1", "related", "{}"}));
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = OpenDb(db_dir_);
    ASSERT_NE(db_, nullptr);
  }

  testing::TempDir tmp_;
  const std::string db_dir_ = tmp_.Sub("db");
  std::unique_ptr<Database> db_;
};

TEST_F(BackupTest, BackupOpensWithEqualFingerprint) {
  // Without the scaling manager the vector index is a graph kept in a file
  // (a small flat index keeps nothing on disk).
  Options options;
  options.scaling.enabled = false;
  db_ = OpenDb(db_dir_, options);
  ASSERT_NE(db_, nullptr);
  Populate(*db_);
  // Write the vector index file, then make it fall behind by one vector.
  VectorSearchOptions vs;
  vs.vector = {1.0F, 0.5F, 0.0F, 2.0F};
  ASSERT_TRUE(db_->SearchVector(vs).ok());
  ASSERT_TRUE(fs::exists(db_dir_ + "/vectors.idx"));
  NewNode late = Make("late");
  late.embedding = {-3.0F, 1.0F, 1.0F, -7.0F};
  ASSERT_TRUE(db_->Create(late).ok());
  // Files a backup must leave out, and one it must take along.
  WriteFile(db_dir_ + "/scaling.lock", "pid");
  WriteFile(db_dir_ + "/.hidden", "x");
  WriteFile(db_dir_ + "/vectors.idx.tmp.123", "half-written");
  WriteFile(db_dir_ + "/extra.json", R"({"kept": true})");

  const DatabaseFingerprint before = FingerprintOf(*db_);
  EXPECT_EQ(before.node_count, 42);
  EXPECT_EQ(before.embedding_count, 41);
  EXPECT_GT(before.edge_count, 2);  // mentions too
  EXPECT_EQ(before.change_seq, db_->LastChangeSeq());

  const std::string bk = tmp_.Sub("bk");
  ASSERT_OK_AND_ASSIGN(BackupReport report, db_->Backup(bk));
  EXPECT_EQ(report.path, bk);
  EXPECT_EQ(report.change_seq, before.change_seq);
  EXPECT_EQ(report.node_count, 42);
  EXPECT_GT(report.bytes, 0);
  EXPECT_GE(report.seconds, 0);
  EXPECT_EQ(FilesIn(bk), (std::set<std::string>{"nodespace.db", "vectors.idx", "extra.json"}));
  EXPECT_EQ(ReadFile(bk + "/extra.json"), R"({"kept": true})");

  std::vector<std::string> log;
  options.info_log = [&](std::string_view line) { log.emplace_back(line); };
  std::unique_ptr<Database> copy = OpenDb(bk, options);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(FingerprintOf(*copy), before);
  EXPECT_OK(copy->CheckIntegrity());
  // The copied index catches up (the late vector) instead of being rebuilt.
  vs.vector = late.embedding;
  vs.k = 1;
  ASSERT_OK_AND_ASSIGN(VectorSearchResult hits, copy->SearchVector(vs));
  ASSERT_EQ(hits.hits.size(), 1U);
  EXPECT_EQ(hits.hits[0].node.id, "late");
  for (const std::string& line : log) EXPECT_EQ(line.find("rebuil"), std::string::npos) << line;
  ASSERT_OK_AND_ASSIGN(Node n7, copy->Get("n7"));
  EXPECT_EQ(n7.properties, R"({"i": 7})");
  // The source is unaffected and still writable.
  EXPECT_TRUE(db_->Create(Make("after")).ok());
  EXPECT_EQ(FingerprintOf(*copy), before);
}

// Phase migrations keep their backups in <db>/backups/: a backup may lie
// inside the database directory, and never holds the earlier ones.
TEST_F(BackupTest, BackupsInsideTheDatabaseDirectoryDoNotNest) {
  Populate(*db_, 4);
  WriteFile(db_dir_ + "/extra.json", "{}");
  ASSERT_TRUE(db_->Backup(db_dir_ + "/backups/one").ok());
  ASSERT_TRUE(db_->Create(Make("more")).ok());
  ASSERT_OK_AND_ASSIGN(BackupReport two, db_->Backup(db_dir_ + "/backups/two"));
  EXPECT_EQ(FilesIn(db_dir_ + "/backups/one"),
            (std::set<std::string>{"nodespace.db", "extra.json"}));
  EXPECT_EQ(FilesIn(db_dir_ + "/backups/two"),
            (std::set<std::string>{"nodespace.db", "extra.json"}));
  EXPECT_EQ(FingerprintAt(db_dir_ + "/backups/two"), FingerprintOf(*db_));
  EXPECT_EQ(two.node_count, 6);
}

TEST_F(BackupTest, BackupIsOneSnapshotWhileAWriterWrites) {
  // Large enough that the copy takes several steps of kPagesPerStep pages.
  for (int b = 0; b < 10; ++b) {
    WriteBatch batch;
    for (int i = 0; i < 500; ++i) {
      batch.Create(Make("seed" + std::to_string(b * 500 + i), "", std::string(1500, 'a' + b)));
    }
    ASSERT_TRUE(db_->Write(batch).ok());
  }
  std::atomic<bool> stop{false};
  std::atomic<int64_t> written{0};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      auto r = db_->Create(Make("w" + std::to_string(i), "", std::string(300, 'w')));
      if (!r.ok()) {
        ADD_FAILURE() << r.status().ToString();
        return;
      }
      written.fetch_add(1);
    }
  });
  while (written.load() < 20) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  const int64_t written_before = written.load();
  std::vector<std::string> backups;
  for (int k = 0; k < 3; ++k) {
    const std::string bk = tmp_.Sub("bk" + std::to_string(k));
    auto report = db_->Backup(bk);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    backups.push_back(bk);
  }
  const int64_t written_during = written.load() - written_before;
  stop = true;
  writer.join();
  EXPECT_GT(written_during, 0) << "the writer made no progress while the backups ran";

  ASSERT_OK_AND_ASSIGN(std::vector<Change> live_changes, db_->ChangesSince(0, 1000000));
  for (const std::string& bk : backups) {
    SCOPED_TRACE(bk);
    std::unique_ptr<Database> copy = OpenDb(bk);
    ASSERT_NE(copy, nullptr);
    EXPECT_OK(copy->CheckIntegrity());
    const DatabaseFingerprint fp = FingerprintOf(*copy);
    ASSERT_OK_AND_ASSIGN(std::vector<Change> changes, copy->ChangesSince(0, 1000000));
    EXPECT_EQ(static_cast<int64_t>(changes.size()), fp.change_seq);
    // Exactly the nodes created by the changes up to the snapshot.
    std::set<std::string> expected;
    for (const Change& c : live_changes) {
      if (c.seq <= fp.change_seq && c.op == ChangeOp::kCreate) expected.insert(c.node_id);
    }
    EXPECT_EQ(fp.node_count, static_cast<int64_t>(expected.size()));
    ListOptions all;
    ASSERT_OK_AND_ASSIGN(std::vector<Node> roots, copy->Roots(all));
    std::set<std::string> got;
    for (const Node& n : roots) got.insert(n.id);
    EXPECT_EQ(got, expected);
  }
}

TEST_F(BackupTest, DestinationMustBeNewOrEmpty) {
  Populate(*db_, 4);
  const std::string full = tmp_.Sub("full");
  fs::create_directories(full);
  WriteFile(full + "/keep.txt", "mine");
  auto r = db_->Backup(full);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsAlreadyExists()) << r.status().ToString();
  EXPECT_EQ(r.status().message(), "backup destination '" + full +
                                      "' is not empty; back up into a new or empty directory");
  EXPECT_EQ(EntriesIn(full), (std::set<std::string>{"keep.txt"}));
  EXPECT_EQ(ReadFile(full + "/keep.txt"), "mine");

  const std::string file = tmp_.Sub("a-file");
  WriteFile(file, "x");
  r = db_->Backup(file);
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_EQ(ReadFile(file), "x");

  r = db_->Backup(db_dir_);
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();

  // An existing empty directory is fine.
  const std::string empty = tmp_.Sub("empty");
  fs::create_directories(empty);
  EXPECT_TRUE(db_->Backup(empty).ok());
  EXPECT_TRUE(fs::exists(empty + "/nodespace.db"));
}

class RestoreTest : public BackupTest {
 protected:
  void SetUp() override {
    BackupTest::SetUp();
    Populate(*db_, 300);
    ASSERT_TRUE(db_->Backup(backup_).ok());
    backup_fp_ = FingerprintOf(*db_);
    // The destination: another database with different content.
    std::unique_ptr<Database> other = OpenDb(dest_);
    ASSERT_NE(other, nullptr);
    ASSERT_TRUE(other->Create(Make("other")).ok());
    dest_fp_ = FingerprintOf(*other);
  }

  // The destination still holds its own database, and nothing was left beside it.
  void ExpectDestinationUntouched() {
    EXPECT_EQ(FingerprintAt(dest_), dest_fp_);
    EXPECT_EQ(EntriesIn(tmp_.path()), (std::set<std::string>{"db", "bk", "dest"}));
  }

  const std::string backup_ = tmp_.Sub("bk");
  const std::string dest_ = tmp_.Sub("dest");
  DatabaseFingerprint backup_fp_;
  DatabaseFingerprint dest_fp_;
};

TEST_F(RestoreTest, RefusesAnExistingDatabaseWithoutOverwrite) {
  auto r = Database::Restore(backup_, dest_, /*overwrite=*/false);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsAlreadyExists()) << r.status().ToString();
  EXPECT_EQ(r.status().message(),
            "database '" + dest_ + "' already exists; use --force to replace it");
  ExpectDestinationUntouched();
}

TEST_F(RestoreTest, OverwriteReplacesTheDatabase) {
  // A stale WAL of the old database must not be applied to the restored one.
  WriteFile(dest_ + "/nodespace.db-wal", std::string(4096, '\x7f'));
  WriteFile(dest_ + "/nodespace.db-shm", std::string(4096, '\x7f'));
  ASSERT_OK_AND_ASSIGN(BackupReport r, Database::Restore(backup_, dest_, /*overwrite=*/true));
  EXPECT_EQ(r.path, dest_);
  EXPECT_EQ(r.change_seq, backup_fp_.change_seq);
  EXPECT_EQ(r.node_count, backup_fp_.node_count);
  EXPECT_GT(r.bytes, 0);
  EXPECT_EQ(FilesIn(dest_), FilesIn(backup_));
  EXPECT_EQ(EntriesIn(tmp_.path()), (std::set<std::string>{"db", "bk", "dest"}));
  std::unique_ptr<Database> restored = OpenDb(dest_);
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(FingerprintOf(*restored), backup_fp_);
  EXPECT_OK(restored->CheckIntegrity());
  EXPECT_TRUE(restored->Get("other").status().IsNotFound());
  EXPECT_EQ(restored->LastChangeSeq(), backup_fp_.change_seq);
  // The backup itself is unchanged and can be restored again.
  EXPECT_TRUE(FilesIn(backup_).count("nodespace.db"));
  EXPECT_EQ(FingerprintAt(backup_), backup_fp_);
}

TEST_F(RestoreTest, RestoresIntoANewDirectory) {
  const std::string fresh = tmp_.Sub("new/deeper/db");
  ASSERT_OK_AND_ASSIGN(BackupReport r, Database::Restore(backup_, fresh, /*overwrite=*/false));
  EXPECT_EQ(r.change_seq, backup_fp_.change_seq);
  EXPECT_EQ(FingerprintAt(fresh), backup_fp_);
  EXPECT_EQ(EntriesIn(tmp_.Sub("new/deeper")), (std::set<std::string>{"db"}));
}

TEST_F(RestoreTest, RefusesBadArguments) {
  auto r = Database::Restore(tmp_.Sub("nowhere"), dest_, true);
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();
  EXPECT_EQ(r.status().message(), "no backup at '" + tmp_.Sub("nowhere") + "': not a directory");

  const std::string not_backup = tmp_.Sub("not-a-backup");
  fs::create_directories(not_backup);
  r = Database::Restore(not_backup, dest_, true);
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();
  EXPECT_EQ(r.status().message(), "'" + not_backup + "' is not a nodespace backup: '" + not_backup +
                                      "/nodespace.db' is missing");
  fs::remove_all(not_backup);

  // A non-empty directory without a database is never thrown away.
  const std::string docs = tmp_.Sub("docs");
  fs::create_directories(docs);
  WriteFile(docs + "/letter.txt", "dear");
  r = Database::Restore(backup_, docs, true);
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_EQ(ReadFile(docs + "/letter.txt"), "dear");
  fs::remove_all(docs);

  // Restoring over the directory that holds the backup would delete it.
  const std::string nested = dest_ + "/backups/b1";
  fs::create_directories(dest_ + "/backups");
  fs::copy(backup_, nested, fs::copy_options::recursive);
  r = Database::Restore(nested, dest_, true);
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_TRUE(fs::exists(nested + "/nodespace.db"));
  fs::remove_all(dest_ + "/backups");
  ExpectDestinationUntouched();
}

// Expects Restore to refuse the backup with `code` and a message that names
// its nodespace.db.
void ExpectRefused(const std::string& backup, const std::string& dest, StatusCode code,
                   const std::string& message_part) {
  auto r = Database::Restore(backup, dest, /*overwrite=*/true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), code) << r.status().ToString();
  EXPECT_NE(r.status().message().find(message_part), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find(backup + "/nodespace.db"), std::string::npos)
      << r.status().ToString();
}

TEST_F(RestoreTest, RefusesABackupWithOverwrittenPages) {
  const std::string file = backup_ + "/nodespace.db";
  std::string bytes = ReadFile(file);
  ASSERT_GT(bytes.size(), 40U * 4096U);
  std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 4),
            bytes.begin() + static_cast<std::ptrdiff_t>(3 * bytes.size() / 4), '\xA5');
  WriteFile(file, bytes);
  ExpectRefused(backup_, dest_, StatusCode::kCorruption, "is damaged");
  ExpectDestinationUntouched();
}

TEST_F(RestoreTest, RefusesATruncatedBackup) {
  const std::string file = backup_ + "/nodespace.db";
  fs::resize_file(file, fs::file_size(file) / 2);
  ExpectRefused(backup_, dest_, StatusCode::kCorruption, "is damaged");
  ExpectDestinationUntouched();

  fs::resize_file(file, 0);
  ExpectRefused(backup_, dest_, StatusCode::kCorruption, "holds no nodespace database");
  ExpectDestinationUntouched();
}

TEST_F(RestoreTest, RefusesAFileThatIsNotADatabase) {
  WriteFile(backup_ + "/nodespace.db", std::string(100000, 'z'));
  ExpectRefused(backup_, dest_, StatusCode::kCorruption, "is damaged");
  ExpectDestinationUntouched();
}

TEST_F(RestoreTest, RefusesANewerSchema) {
  {
    ASSERT_OK_AND_ASSIGN(auto conn, storage::Connection::Open(backup_ + "/nodespace.db",
                                                              /*read_only=*/false, false));
    ASSERT_OK(conn->Exec("PRAGMA user_version = " + std::to_string(storage::kSchemaVersion + 1)));
  }
  ExpectRefused(backup_, dest_, StatusCode::kNotSupported,
                "has schema version " + std::to_string(storage::kSchemaVersion + 1) +
                    ", newer than this build supports");
  ExpectDestinationUntouched();
}

// RestoreInPlace is what scaling migrations use to roll back: the database
// stays open and every connection sees the restored content.
class RestoreInPlaceTest : public BackupTest {};

TEST_F(RestoreInPlaceTest, EveryConnectionSeesTheRestoredContent) {
  Populate(*db_, 10);
  // Where a phase migration keeps its backup.
  const std::string bk = db_dir_ + "/backups/before";
  ASSERT_TRUE(db_->Backup(bk).ok());
  const DatabaseFingerprint saved = FingerprintOf(*db_);

  // A second Impl on the same directory stands for another process.
  Database::Impl impl(db_dir_, Options{});
  ASSERT_OK(impl.Open());

  ASSERT_TRUE(db_->Delete("n5").ok());
  ASSERT_TRUE(db_->Create(Make("newcomer")).ok());
  ASSERT_TRUE(db_->Get("newcomer").ok());
  ASSERT_NE(FingerprintOf(*db_), saved);

  ASSERT_OK(impl.RestoreInPlace(bk));

  EXPECT_EQ(FingerprintOf(*db_), saved);
  ASSERT_OK_AND_ASSIGN(DatabaseFingerprint via_impl, impl.Fingerprint());
  EXPECT_EQ(via_impl, saved);
  ASSERT_OK_AND_ASSIGN(Node n5, db_->Get("n5"));
  EXPECT_EQ(n5.parent_id, "n4");
  EXPECT_TRUE(db_->Get("newcomer").status().IsNotFound());
  EXPECT_TRUE(impl.Get("n5").ok());
  EXPECT_EQ(db_->LastChangeSeq(), saved.change_seq);
  // The full-text index came back with the nodes.
  TextSearchOptions ts;
  ts.query = "note 5";
  ASSERT_OK_AND_ASSIGN(TextSearchResult found, db_->SearchText(ts));
  EXPECT_FALSE(found.hits.empty());
  EXPECT_OK(db_->CheckIntegrity());

  // Both writers go on working (the subtree delete uses the writer's
  // temporary table, which the restore must not disturb).
  WriteBatch batch;
  batch.Delete("n9", kAnyVersion);
  ASSERT_TRUE(impl.Write(batch, WriteOptions{}).ok());
  ASSERT_TRUE(db_->Create(Make("later")).ok());
  EXPECT_TRUE(impl.Get("n9").status().IsNotFound());
  EXPECT_TRUE(impl.Get("later").ok());
  EXPECT_EQ(db_->LastChangeSeq(), saved.change_seq + 2);
  EXPECT_OK(db_->CheckIntegrity());
}

TEST_F(RestoreInPlaceTest, ClearsCachedQueryResults) {
  // Two backups at the same change sequence with different content: only
  // clearing the cache keeps a result cached at that sequence from coming
  // back after the restore.
  const std::string bk_a = tmp_.Sub("a"), bk_b = tmp_.Sub("b");
  ASSERT_TRUE(db_->Create(Make("x", "", "apples")).ok());
  ASSERT_TRUE(db_->Backup(bk_a).ok());
  {
    std::unique_ptr<Database> other = OpenDb(tmp_.Sub("other"));
    ASSERT_NE(other, nullptr);
    ASSERT_TRUE(other->Create(Make("x", "", "bananas")).ok());
    ASSERT_TRUE(other->Backup(bk_b).ok());
  }
  Database::Impl impl(db_dir_, Options{});
  ASSERT_OK(impl.Open());
  ASSERT_OK_AND_ASSIGN(
      Query q, ParseQueryJson(R"({"filters": [{"field": "id", "op": "=", "value": "x"}]})"));
  auto content = [&]() -> std::string {
    auto r = impl.RunQuery(q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && r->hits.size() == 1 ? r->hits[0].node.content : "?";
  };
  EXPECT_EQ(content(), "apples");
  EXPECT_EQ(content(), "apples");  // now cached at seq 1
  ASSERT_OK(impl.RestoreInPlace(bk_b));
  EXPECT_EQ(impl.LastChangeSeq(), 1);
  EXPECT_EQ(content(), "bananas");
}

TEST_F(RestoreInPlaceTest, ChecksTheBackupFirst) {
  Populate(*db_, 10);
  const std::string bk = tmp_.Sub("bk");
  ASSERT_TRUE(db_->Backup(bk).ok());
  const DatabaseFingerprint before = FingerprintOf(*db_);
  const std::string file = bk + "/nodespace.db";
  fs::resize_file(file, fs::file_size(file) / 2);

  Database::Impl impl(db_dir_, Options{});
  ASSERT_OK(impl.Open());
  Status st = impl.RestoreInPlace(bk);
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
  EXPECT_NE(st.message().find(file), std::string::npos) << st.ToString();
  EXPECT_TRUE(impl.RestoreInPlace(tmp_.Sub("nowhere")).IsNotFound());
  EXPECT_TRUE(impl.RestoreInPlace(db_dir_).IsInvalidArgument());
  EXPECT_EQ(FingerprintOf(*db_), before);

  Options ro;
  ro.read_only = true;
  Database::Impl read_only(db_dir_, ro);
  ASSERT_OK(read_only.Open());
  EXPECT_EQ(read_only.RestoreInPlace(bk).code(), StatusCode::kNotSupported);
}

TEST(FingerprintTest, ChangesWithContent) {
  testing::TempDir tmp;
  std::unique_ptr<Database> db = OpenDb(tmp.Sub("db"));
  ASSERT_NE(db, nullptr);
  const DatabaseFingerprint empty = FingerprintOf(*db);
  EXPECT_EQ(empty.node_count, 0);
  EXPECT_EQ(empty.nodes_checksum.size(), 16U);
  Populate(*db, 5);
  const DatabaseFingerprint a = FingerprintOf(*db);
  EXPECT_NE(a.nodes_checksum, empty.nodes_checksum);
  EXPECT_EQ(FingerprintOf(*db), a);  // stable

  NodePatch patch;
  patch.content = "changed";
  ASSERT_TRUE(db->Update("n2", patch, kAnyVersion).ok());
  const DatabaseFingerprint b = FingerprintOf(*db);
  EXPECT_NE(b.nodes_checksum, a.nodes_checksum);
  EXPECT_EQ(b.change_seq, a.change_seq + 1);

  ASSERT_OK(db->AddEdge({"n4", "root", "related", "{}"}));
  const DatabaseFingerprint c = FingerprintOf(*db);
  EXPECT_NE(c.edges_checksum, b.edges_checksum);
  EXPECT_EQ(c.nodes_checksum, b.nodes_checksum);
  EXPECT_EQ(c.edge_count, b.edge_count + 1);

  patch = NodePatch{};
  patch.properties = R"({"i": 99})";
  ASSERT_TRUE(db->Update("n3", patch, kAnyVersion).ok());
  EXPECT_NE(FingerprintOf(*db).nodes_checksum, c.nodes_checksum);
}

TEST(FingerprintTest, IsAboutDataNotRowids) {
  testing::TempDir tmp;
  auto make = [](const std::string& id, const std::string& parent) {
    NewNode n = Make(id, parent);
    n.created_at = n.modified_at = 1700000000000;
    return n;
  };
  std::unique_ptr<Database> a = OpenDb(tmp.Sub("a"));
  std::unique_ptr<Database> b = OpenDb(tmp.Sub("b"));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Create(make("p", "")).ok());
  ASSERT_TRUE(a->Create(make("q", "")).ok());
  // In b, q gets another rowid: a node created (and deleted) before it.
  ASSERT_TRUE(b->Create(make("p", "")).ok());
  ASSERT_TRUE(b->Create(make("tmp", "p")).ok());
  ASSERT_TRUE(b->Create(make("q", "")).ok());
  ASSERT_TRUE(b->Delete("tmp", kAnyVersion).ok());
  const DatabaseFingerprint fa = FingerprintOf(*a), fb = FingerprintOf(*b);
  EXPECT_EQ(fa.nodes_checksum, fb.nodes_checksum);
  EXPECT_EQ(fa.node_count, fb.node_count);
  EXPECT_NE(fa.change_seq, fb.change_seq);
  EXPECT_NE(fa, fb);
}

}  // namespace
}  // namespace nodespace
