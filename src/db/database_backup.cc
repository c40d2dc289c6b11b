// Backup, restore and the fingerprint that proves a copy holds the same data
// (docs/ARCHITECTURE.md, "Backup and restore").
//
// A backup is a directory laid out like a database directory: nodespace.db,
// written by SQLite's online backup API from inside one read transaction (so
// it is one snapshot, however long the copy takes and however much is written
// meanwhile), and the directory's other files (vector index, embedder model),
// copied before that snapshot began. The vector index therefore never reflects
// a change the snapshot lacks; on open it only catches up.
//
// Restore checks a backup before it touches anything, builds the new
// directory beside the destination and swaps the two by rename, so a failure
// at any point leaves the destination as it was.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "db/database_impl.h"
#include "env/env.h"
#include "model/stable_hash.h"
#include "storage/schema.h"

namespace nodespace {

namespace fs = std::filesystem;

namespace {

constexpr const char* kDbFileName = "nodespace.db";
constexpr const char* kVectorIndexName = "vectors.idx";
// Pages copied per sqlite3_backup_step while backing up: each step holds the
// destination's lock only briefly, and the source's snapshot stays fixed by
// the surrounding read transaction.
constexpr int kPagesPerStep = 1024;
// A step that finds a lock taken waits busy_timeout first; these retries are
// on top of that.
constexpr int kMaxBusyRetries = 200;
constexpr auto kBusyRetryWait = std::chrono::milliseconds(5);
constexpr size_t kCopyChunkBytes = size_t{1} << 20;

std::string Quote(const std::string& s) {
  return "'" + s + "'";
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Whether a file of a database directory goes into a backup by plain copy.
// nodespace.db does not (SQLite copies it), nor do SQLite's -wal/-shm/-journal
// files, lock files, hidden files and the temporary files of AtomicFileWriter
// (`NAME.tmp.PID`).
bool IsCopiedFile(const std::string& name) {
  if (name.empty() || name[0] == '.' || name == kDbFileName) return false;
  for (std::string_view suffix : {"-wal", "-shm", "-journal", ".lock", ".tmp", ".port"}) {
    if (EndsWith(name, suffix)) return false;
  }
  return name.find(".tmp.") == std::string::npos;
}

// The files under `dir` that IsCopiedFile admits, as paths relative to `dir`,
// the vector index first. Skipped: hidden directories, symbolic links,
// `exclude` (a backup being written inside `dir`), and subdirectories that
// hold a nodespace.db (or the .tmp of one being written) of their own: those are other databases,
// such as the backups a phase migration keeps in `<db>/backups/`, and copying them would nest every
// earlier backup in each new one.
Result<std::vector<std::string>> ListCopiedFiles(const std::string& dir,
                                                 const fs::path& exclude = {}) {
  std::vector<std::string> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) return Status::IOError("cannot list " + Quote(dir) + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Status::IOError("cannot list " + Quote(dir) + ": " + ec.message());
    const std::string name = it->path().filename().string();
    const fs::file_status st = it->symlink_status(ec);
    if (ec)
      return Status::IOError("cannot stat " + Quote(it->path().string()) + ": " + ec.message());
    if (fs::is_directory(st)) {
      const fs::path db_file = it->path() / kDbFileName;
      if ((!name.empty() && name[0] == '.') || fs::exists(db_file, ec) ||
          fs::exists(db_file.string() + ".tmp", ec) ||  // a backup being written
          (!exclude.empty() && fs::equivalent(it->path(), exclude, ec))) {
        it.disable_recursion_pending();
      }
      continue;
    }
    if (!fs::is_regular_file(st) || !IsCopiedFile(name)) continue;
    out.push_back(it->path().lexically_relative(dir).string());
  }
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    const bool a_index = a == kVectorIndexName, b_index = b == kVectorIndexName;
    return a_index != b_index ? a_index : a < b;
  });
  return out;
}

// Copies `from` to `to` through the Env: a temporary file beside `to`,
// synced, then renamed over it.
Status CopyFile(Env& env, const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::create_directories(fs::path(to).parent_path(), ec);
  if (ec) {
    return Status::IOError("cannot create " + Quote(fs::path(to).parent_path().string()) + ": " +
                           ec.message());
  }
  NS_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> src, env.MapReadOnly(from));
  NS_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFileWriter> dst, AtomicFileWriter::Open(env, to));
  const auto* data = reinterpret_cast<const char*>(src->data());
  for (size_t at = 0; at < src->size(); at += kCopyChunkBytes) {
    NS_RETURN_IF_ERROR(
        dst->Append(std::string_view(data + at, std::min(kCopyChunkBytes, src->size() - at))));
  }
  return dst->Commit();
}

int64_t DirBytes(const std::string& dir) {
  int64_t bytes = 0;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) bytes += static_cast<int64_t>(entry.file_size(ec));
  }
  return bytes;
}

std::string RandomSuffix() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(gen()));
  return buf;
}

// An absolute, normalised form of `p` that exists or not (symbolic links in
// the part that exists are resolved), for comparing directories.
fs::path Normalized(const std::string& p) {
  std::error_code ec;
  fs::path out = fs::weakly_canonical(fs::absolute(p, ec), ec);
  if (ec) out = fs::absolute(p, ec).lexically_normal();
  if (!out.has_filename() && out.has_parent_path()) out = out.parent_path();  // "a/b/" -> "a/b"
  return out;
}

// Whether `inner` is `outer` or lies below it (both Normalized).
bool IsWithin(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

// "file:" URI for `path`, for sqlite3_open_v2 with SQLITE_OPEN_URI.
std::string FileUri(const std::string& path, const char* query) {
  std::string uri = "file:";
  for (unsigned char c : fs::absolute(path).string()) {
    if (std::isalnum(c) || std::strchr("/._~-", c) != nullptr) {
      uri += static_cast<char>(c);
    } else {
      char esc[4];
      std::snprintf(esc, sizeof(esc), "%%%02X", c);
      uri += esc;
    }
  }
  return uri + "?" + query;
}

// A connection of our own, outside the database's pools: the file a backup
// writes, or a backup opened to be read.
class RawDb {
 public:
  // Opens a backup file read-only and immutable: no locks are taken and no
  // -wal/-shm files are created beside it (a backup may be on read-only media).
  static Result<RawDb> OpenImmutable(const std::string& file) {
    return Open(FileUri(file, "immutable=1"), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, file);
  }
  // Creates (or truncates to nothing and reuses) `file` for writing.
  static Result<RawDb> Create(const std::string& file) {
    return Open(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, file);
  }

  sqlite3* get() const { return db_.get(); }

  Status Exec(const std::string& sql) {
    const int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return storage::FromSqlite(rc, db_.get(), Quote(file_));
    return Status::OK();
  }
  // Every row's first column as text.
  Result<std::vector<std::string>> QueryTexts(const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr);
    if (rc != SQLITE_OK) return storage::FromSqlite(rc, db_.get(), Quote(file_));
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
    std::vector<std::string> rows;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 0));
      rows.emplace_back(text ? text : "");
    }
    if (rc != SQLITE_DONE) return storage::FromSqlite(rc, db_.get(), Quote(file_));
    return rows;
  }
  Result<int64_t> QueryInt(const std::string& sql) {
    NS_ASSIGN_OR_RETURN(std::vector<std::string> rows, QueryTexts(sql));
    if (rows.empty()) return Status::NotFound(Quote(file_) + ": no row for " + sql);
    return static_cast<int64_t>(std::strtoll(rows.front().c_str(), nullptr, 10));
  }
  // Closes the connection, reporting what sqlite3_close says.
  Status Close() {
    sqlite3* db = db_.release();
    const int rc = sqlite3_close(db);
    if (rc != SQLITE_OK) {
      sqlite3_close_v2(db);
      return storage::FromSqlite(rc, nullptr, "closing " + Quote(file_));
    }
    return Status::OK();
  }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  RawDb(sqlite3* db, std::string file) : db_(db), file_(std::move(file)) {}

  static Result<RawDb> Open(const std::string& name, int flags, const std::string& file) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(name.c_str(), &db, flags | SQLITE_OPEN_EXRESCODE, nullptr);
    if (rc != SQLITE_OK) {
      Status st = storage::FromSqlite(rc, db, "cannot open " + Quote(file));
      sqlite3_close_v2(db);
      return st;
    }
    return RawDb(db, file);
  }

  std::unique_ptr<sqlite3, Closer> db_;
  std::string file_;
};

// Copies every page of `src` into `dst` (both "main"), `pages_per_step` at a
// time (-1: all in one step). The destination ends up an exact copy.
Status CopyPages(sqlite3* src, sqlite3* dst, int pages_per_step, const std::string& what) {
  sqlite3_backup* backup = sqlite3_backup_init(dst, "main", src, "main");
  if (backup == nullptr) return storage::FromSqlite(sqlite3_errcode(dst), dst, what);
  int rc = SQLITE_OK;
  int busy = 0;
  while (true) {
    rc = sqlite3_backup_step(backup, pages_per_step);
    if (rc == SQLITE_OK) continue;
    if ((rc & 0xFF) == SQLITE_BUSY || (rc & 0xFF) == SQLITE_LOCKED) {
      if (++busy > kMaxBusyRetries) break;
      std::this_thread::sleep_for(kBusyRetryWait);
      continue;
    }
    break;
  }
  // finish stores a step's error on the destination connection.
  const int finish = sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) return storage::FromSqlite(rc, dst, what);
  if (finish != SQLITE_OK) return storage::FromSqlite(finish, dst, what);
  return Status::OK();
}

// What checking a backup found out about it.
struct BackupInfo {
  int64_t change_seq = 0;
  int64_t node_count = 0;
};

// Checks that `backup_dir` holds a backup this build can restore: the file
// is there, SQLite's integrity check passes, and its schema is not newer.
Result<BackupInfo> CheckBackup(const std::string& backup_dir) {
  std::error_code ec;
  if (!fs::is_directory(backup_dir, ec)) {
    return Status::NotFound("no backup at " + Quote(backup_dir) + ": not a directory");
  }
  const std::string file = (fs::path(backup_dir) / kDbFileName).string();
  if (!fs::is_regular_file(file, ec)) {
    return Status::NotFound(Quote(backup_dir) + " is not a nodespace backup: " + Quote(file) +
                            " is missing");
  }
  auto damaged = [&](const std::string& why) {
    return Status::Corruption("backup file " + Quote(file) + " is damaged: " + why);
  };
  Result<RawDb> db = RawDb::OpenImmutable(file);
  if (!db.ok()) {
    if (db.status().code() == StatusCode::kCorruption) return damaged(db.status().message());
    return db.status();
  }
  // Any error while reading the file (a short read, a malformed page) is
  // damage too: the backup cannot be restored as it is.
  Result<std::vector<std::string>> problems = db->QueryTexts("PRAGMA integrity_check");
  if (!problems.ok()) return damaged(problems.status().message());
  if (problems->size() != 1 || problems->front() != "ok") {
    std::string list;
    for (size_t i = 0; i < problems->size() && i < 10; ++i) {
      list += (i ? "; " : "") + (*problems)[i];
    }
    return damaged("integrity check failed: " + list);
  }
  Result<int64_t> version = db->QueryInt("PRAGMA user_version");
  if (!version.ok()) return damaged(version.status().message());
  if (*version > storage::kSchemaVersion) {
    return Status::NotSupported("backup file " + Quote(file) + " has schema version " +
                                std::to_string(*version) + ", newer than this build supports (" +
                                std::to_string(storage::kSchemaVersion) +
                                "); restore it with a newer nodespace");
  }
  if (*version <= 0) {
    return damaged("it holds no nodespace database (empty file or schema version " +
                   std::to_string(*version) + ")");
  }
  BackupInfo info;
  Result<int64_t> seq = db->QueryInt("SELECT ifnull(max(seq), 0) FROM changes");
  if (!seq.ok()) return damaged(seq.status().message());
  info.change_seq = *seq;
  Result<int64_t> nodes = db->QueryInt("SELECT count(*) FROM nodes");
  if (!nodes.ok()) return damaged(nodes.status().message());
  info.node_count = *nodes;
  return info;
}

// Removes a directory (or, for one that existed before, its contents) when
// it goes out of scope, unless Keep() was called: a failed backup or restore
// leaves nothing half-written behind.
class DirCleanup {
 public:
  DirCleanup(std::string dir, bool remove_dir) : dir_(std::move(dir)), remove_dir_(remove_dir) {}
  ~DirCleanup() {
    if (keep_) return;
    std::error_code ec;
    if (remove_dir_) {
      fs::remove_all(dir_, ec);
      return;
    }
    std::vector<fs::path> entries;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) entries.push_back(entry.path());
    for (const auto& p : entries) fs::remove_all(p, ec);
  }
  DirCleanup(const DirCleanup&) = delete;
  DirCleanup& operator=(const DirCleanup&) = delete;
  void Keep() { keep_ = true; }

 private:
  std::string dir_;
  bool remove_dir_;
  bool keep_ = false;
};

// Checks that a backup may be written into `dest_dir` and creates it.
// Returns whether it was created (false: it existed, empty). A backup may lie
// inside the database directory (ListCopiedFiles leaves it out).
Result<bool> PrepareBackupDir(const std::string& db_dir, const std::string& dest_dir) {
  if (dest_dir.empty()) return Status::InvalidArgument("backup destination is empty");
  std::error_code ec;
  if (Normalized(dest_dir) == Normalized(db_dir)) {
    return Status::InvalidArgument("cannot back up " + Quote(db_dir) + " into itself");
  }
  if (fs::exists(dest_dir, ec)) {
    if (!fs::is_directory(dest_dir, ec)) {
      return Status::InvalidArgument("backup destination " + Quote(dest_dir) +
                                     " exists and is not a directory");
    }
    if (!fs::is_empty(dest_dir, ec)) {
      return Status::AlreadyExists("backup destination " + Quote(dest_dir) +
                                   " is not empty; back up into a new or empty directory");
    }
    if (ec) return Status::IOError("cannot read " + Quote(dest_dir) + ": " + ec.message());
    return false;
  }
  fs::create_directories(dest_dir, ec);
  if (ec) return Status::IOError("cannot create " + Quote(dest_dir) + ": " + ec.message());
  return true;
}

// FNV-1a over a sequence of typed values. Each value is fed with its type
// and, for text and blobs, its length, so different rows cannot run
// together into the same bytes ("ab","c" vs "a","bc").
class RowHasher {
 public:
  // Feeds every column of the current row of `stmt`.
  void Row(const storage::Statement& stmt, int columns) {
    for (int i = 0; i < columns; ++i) {
      switch (stmt.ColumnType(i)) {
        case SQLITE_NULL:
          Feed("n", 0);
          break;
        case SQLITE_INTEGER:
          Feed("i", static_cast<uint64_t>(stmt.ColumnInt(i)));
          break;
        case SQLITE_FLOAT: {
          const double d = stmt.ColumnDouble(i);
          uint64_t bits;
          std::memcpy(&bits, &d, sizeof(bits));
          Feed("f", bits);
          break;
        }
        default: {  // text and blob: the bytes as stored
          const bool text = stmt.ColumnType(i) == SQLITE_TEXT;
          const void* data =
              text ? static_cast<const void*>(stmt.ColumnText(i).data()) : stmt.ColumnBlob(i);
          const auto bytes = static_cast<size_t>(stmt.ColumnBytes(i));
          Feed(text ? "t" : "b", bytes);
          if (bytes > 0) h_ = stable_hash::Fnv1a64({static_cast<const char*>(data), bytes}, h_);
        }
      }
    }
    Feed("r", static_cast<uint64_t>(columns));
  }
  std::string Hex() const {
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h_));
    return buf;
  }

 private:
  void Feed(std::string_view tag, uint64_t value) {
    char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<char>((value >> (8 * i)) & 0xFF);
    h_ = stable_hash::Fnv1a64(tag, h_);
    h_ = stable_hash::Fnv1a64({le, sizeof(le)}, h_);
  }
  uint64_t h_ = stable_hash::kFnvOffsetBasis;
};

// Hashes every row `sql` returns.
Result<std::string> HashRows(storage::Connection& conn, const std::string& sql, int columns) {
  NS_ASSIGN_OR_RETURN(storage::Statement * stmt, conn.Prepare(sql));
  storage::ScopedStatement s(*stmt);
  RowHasher hasher;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    hasher.Row(*s, columns);
  }
  return hasher.Hex();
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

// ---- backup ----

Result<BackupReport> Database::Impl::Backup(const std::string& dest_dir) {
  const auto start = std::chrono::steady_clock::now();
  NS_ASSIGN_OR_RETURN(bool created, PrepareBackupDir(path_, dest_dir));
  DirCleanup cleanup(dest_dir, created);
  Env& env = *Env::Default();

  // The files outside SQLite first: whatever change sequence the copied
  // vector index records is <= the snapshot's, so it only catches up on open.
  NS_ASSIGN_OR_RETURN(std::vector<std::string> files, ListCopiedFiles(path_, fs::path(dest_dir)));
  for (const std::string& rel : files) {
    Status st =
        CopyFile(env, (fs::path(path_) / rel).string(), (fs::path(dest_dir) / rel).string());
    if (!st.ok()) return st.WithContext("backing up " + Quote(rel));
  }

  BackupReport report;
  report.path = dest_dir;
  const std::string tmp_file = (fs::path(dest_dir) / kDbFileName).string() + ".tmp";
  const std::string final_file = (fs::path(dest_dir) / kDbFileName).string();
  {
    NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
    // One read transaction around the whole copy: its first read fixes the
    // snapshot, and every backup step reads that snapshot, so writers on
    // other connections go on without forcing the copy to restart.
    storage::ReadTransaction txn(*conn);
    NS_RETURN_IF_ERROR(txn.Begin());
    NS_ASSIGN_OR_RETURN(report.change_seq,
                        conn->QueryInt("SELECT ifnull(max(seq), 0) FROM changes"));
    NS_ASSIGN_OR_RETURN(report.node_count, conn->QueryInt("SELECT count(*) FROM nodes"));

    NS_ASSIGN_OR_RETURN(RawDb out, RawDb::Create(tmp_file));
    // No journal: a failed copy is thrown away, never rolled back. FULL syncs
    // the file when the copy commits.
    NS_RETURN_IF_ERROR(out.Exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = FULL"));
    NS_RETURN_IF_ERROR(CopyPages(conn->raw(), out.get(), kPagesPerStep,
                                 "backing up " + Quote(path_) + " to " + Quote(tmp_file)));
    NS_RETURN_IF_ERROR(out.Close());
  }
  NS_RETURN_IF_ERROR(env.RenameFile(tmp_file, final_file));
  NS_RETURN_IF_ERROR(env.SyncDir(dest_dir));
  cleanup.Keep();
  report.bytes = DirBytes(dest_dir);
  report.seconds = SecondsSince(start);
  return report;
}

Result<BackupReport> Database::Backup(const std::string& dest_dir) const {
  return impl_->Backup(dest_dir);
}

// ---- restore into a closed database ----

Result<BackupReport> Database::Restore(const std::string& backup_dir, const std::string& dest_dir,
                                       bool overwrite) {
  const auto start = std::chrono::steady_clock::now();
  NS_ASSIGN_OR_RETURN(BackupInfo info, CheckBackup(backup_dir));
  if (dest_dir.empty()) return Status::InvalidArgument("restore destination is empty");

  const fs::path dest = Normalized(dest_dir);
  if (IsWithin(Normalized(backup_dir), dest)) {
    return Status::InvalidArgument("backup " + Quote(backup_dir) + " lies inside the destination " +
                                   Quote(dest_dir) + "; move it elsewhere first");
  }
  std::error_code ec;
  const bool dest_exists = fs::exists(dest, ec);
  if (dest_exists) {
    if (!fs::is_directory(dest, ec)) {
      return Status::InvalidArgument(Quote(dest_dir) + " exists and is not a database directory");
    }
    if (fs::exists(dest / kDbFileName, ec)) {
      if (!overwrite) {
        return Status::AlreadyExists("database " + Quote(dest_dir) +
                                     " already exists; use --force to replace it");
      }
    } else if (!fs::is_empty(dest, ec)) {
      // The swap below would throw away whatever the directory holds.
      return Status::InvalidArgument(Quote(dest_dir) +
                                     " is not empty and holds no database; refusing to replace it");
    }
  }

  // Build the restored directory beside the destination, so the final rename
  // stays on one filesystem.
  const fs::path parent = dest.parent_path();
  fs::create_directories(parent, ec);
  if (ec) return Status::IOError("cannot create " + Quote(parent.string()) + ": " + ec.message());
  const std::string name = dest.filename().string();
  const fs::path temp = parent / ("." + name + ".restore-" + RandomSuffix());
  fs::create_directory(temp, ec);
  if (ec) return Status::IOError("cannot create " + Quote(temp.string()) + ": " + ec.message());
  DirCleanup cleanup(temp.string(), /*remove_dir=*/true);

  Env& env = *Env::Default();
  NS_ASSIGN_OR_RETURN(std::vector<std::string> files, ListCopiedFiles(backup_dir));
  files.push_back(kDbFileName);
  for (const std::string& rel : files) {
    Status st = CopyFile(env, (fs::path(backup_dir) / rel).string(), (temp / rel).string());
    if (!st.ok()) return st.WithContext("restoring " + Quote(rel));
  }
  // The copy holds no -wal/-shm (ListCopiedFiles skips them): whatever the
  // destination had goes away with the old directory.
  NS_RETURN_IF_ERROR(env.SyncDir(temp.string()));

  const fs::path old = parent / (name + ".old-" + RandomSuffix());
  if (dest_exists) {
    fs::rename(dest, old, ec);
    if (ec) {
      return Status::IOError("cannot move " + Quote(dest_dir) + " aside to " + Quote(old.string()) +
                             ": " + ec.message());
    }
  }
  fs::rename(temp, dest, ec);
  if (ec) {
    const std::string why = ec.message();
    if (dest_exists) {
      std::error_code back;
      fs::rename(old, dest, back);
      if (back) {
        return Status::IOError("cannot move the restored copy into " + Quote(dest_dir) + " (" +
                               why + ") nor the old database back from " + Quote(old.string()) +
                               " (" + back.message() + "); move it back by hand");
      }
    }
    return Status::IOError("cannot move the restored copy into " + Quote(dest_dir) + ": " + why);
  }
  cleanup.Keep();
  NS_RETURN_IF_ERROR(env.SyncDir(parent.string()));
  // The restore is complete; a leftover old directory only wastes space.
  if (dest_exists) fs::remove_all(old, ec);

  BackupReport report;
  report.path = dest_dir;
  report.change_seq = info.change_seq;
  report.node_count = info.node_count;
  report.bytes = DirBytes(dest.string());
  report.seconds = SecondsSince(start);
  return report;
}

// ---- restore into the open database ----

Status Database::Impl::RestoreInPlace(const std::string& backup_dir) {
  if (options_.read_only || writer_ == nullptr) {
    return Status::NotSupported("database " + Quote(path_) +
                                " is open read-only; it cannot be restored into");
  }
  // A backup may lie inside the database directory; the database itself is
  // not a backup of itself.
  if (Normalized(backup_dir) == Normalized(path_)) {
    return Status::InvalidArgument("cannot restore " + Quote(path_) + " from itself");
  }
  NS_RETURN_IF_ERROR(CheckBackup(backup_dir).status());
  const std::string file = (fs::path(backup_dir) / kDbFileName).string();
  NS_ASSIGN_OR_RETURN(RawDb source, RawDb::OpenImmutable(file));
  {
    std::lock_guard lock(write_mu_);
    // Into a WAL database the backup API copies only between equal page sizes.
    NS_ASSIGN_OR_RETURN(int64_t source_page, source.QueryInt("PRAGMA page_size"));
    NS_ASSIGN_OR_RETURN(int64_t dest_page, writer_->QueryInt("PRAGMA page_size"));
    if (source_page != dest_page) {
      return Status::NotSupported("backup " + Quote(backup_dir) + " has " +
                                  std::to_string(source_page) + "-byte pages, database " +
                                  Quote(path_) + " " + std::to_string(dest_page) +
                                  "-byte pages; restore it into a closed database instead");
    }
    // One step, one write transaction: other connections see the old
    // content or the restored one, never a mix. The copy bumps the schema
    // cookie, so every connection re-reads the schema before its next read.
    bulk_memo_.Forget();  // the rows it remembers are replaced
    NS_RETURN_IF_ERROR(CopyPages(source.get(), writer_->raw(), -1,
                                 "restoring " + Quote(backup_dir) + " into " + Quote(path_)));
  }
  // The change sequence may now repeat one a cached result was computed at.
  query_cache_->Clear();
  {
    // The embedder configuration (meta) may differ in the restored content.
    std::lock_guard<std::mutex> lock(embedder_mu_);
    embedder_.reset();
    embedder_model_.clear();
  }
  return Status::OK();
}

// ---- fingerprint ----

Result<DatabaseFingerprint> Database::Impl::Fingerprint() {
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  storage::ReadTransaction txn(*conn);
  NS_RETURN_IF_ERROR(txn.Begin());
  DatabaseFingerprint fp;
  NS_ASSIGN_OR_RETURN(fp.node_count, conn->QueryInt("SELECT count(*) FROM nodes"));
  NS_ASSIGN_OR_RETURN(fp.edge_count, conn->QueryInt("SELECT count(*) FROM edges"));
  NS_ASSIGN_OR_RETURN(fp.change_seq, conn->QueryInt("SELECT ifnull(max(seq), 0) FROM changes"));
  NS_ASSIGN_OR_RETURN(fp.embedding_count,
                      conn->QueryInt("SELECT count(*) FROM nodes WHERE embedding IS NOT NULL"));
  // In id order, not rowid order: the fingerprint is about data, not layout.
  NS_ASSIGN_OR_RETURN(
      fp.nodes_checksum,
      HashRows(*conn,
               "SELECT id, parent_id, order_key, node_type, content, title, properties, "
               "lifecycle, version, created_at, modified_at, embedding FROM nodes ORDER BY id",
               12));
  NS_ASSIGN_OR_RETURN(fp.edges_checksum,
                      HashRows(*conn,
                               "SELECT from_id, type, to_id, properties FROM edges "
                               "ORDER BY from_id, type, to_id",
                               4));
  return fp;
}

Result<DatabaseFingerprint> Database::Fingerprint() const {
  return impl_->Fingerprint();
}

}  // namespace nodespace
