// Thin RAII wrappers over the SQLite C API that turn result codes into Status.
//
// Thread safety: a Connection and its Statements belong to one thread at a
// time; callers serialise access (DatabaseImpl hands connections out).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "nodespace/status.h"

namespace nodespace::storage {

// Maps an SQLite result code to a Status. The message keeps SQLite's own
// wording after our context, never the SQL text.
Status FromSqlite(int rc, sqlite3* db, std::string_view context);

class Statement {
 public:
  Statement(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binding indexes start at 1, as in SQLite.
  Statement& Bind(int i, std::string_view text);
  // Binds text without copying it: `text` must stay alive and unchanged
  // until the statement is reset (Run resets). For the large fields of hot
  // inserts, where SQLite would otherwise copy each value once more.
  Statement& BindUncopied(int i, std::string_view text);
  Statement& Bind(int i, int64_t value);
  Statement& Bind(int i, int value) { return Bind(i, static_cast<int64_t>(value)); }
  Statement& BindDouble(int i, double value);
  Statement& BindBlob(int i, const void* data, size_t bytes);
  // As BindUncopied, for a blob.
  Statement& BindBlobUncopied(int i, const void* data, size_t bytes);
  Statement& BindNull(int i);
  // Binds a sorted row set for ns_row_in(rowid, ?i) (see Connection::Open).
  // `rows` must stay alive, unchanged, until the statement is reset.
  Statement& BindRowSet(int i, const std::vector<int64_t>* rows);

  // The SQL text it was prepared from.
  const char* Sql() const { return sqlite3_sql(stmt_); }

  // Advances: true when a row is available, false when done.
  Result<bool> Step();
  // Runs a statement that returns no rows (resets it afterwards).
  Status Run();
  // Clears bindings and resets for reuse.
  void Reset();

  std::string_view ColumnText(int i) const;
  std::string ColumnString(int i) const { return std::string(ColumnText(i)); }
  int64_t ColumnInt(int i) const { return sqlite3_column_int64(stmt_, i); }
  double ColumnDouble(int i) const { return sqlite3_column_double(stmt_, i); }
  const void* ColumnBlob(int i) const { return sqlite3_column_blob(stmt_, i); }
  int ColumnBytes(int i) const { return sqlite3_column_bytes(stmt_, i); }
  int ColumnType(int i) const { return sqlite3_column_type(stmt_, i); }  // SQLITE_INTEGER, ...
  bool ColumnIsNull(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

 private:
  sqlite3_stmt* stmt_;
  sqlite3* db_;
  Status bind_error_;
};

// Resets a cached statement when it goes out of scope, so that no read
// transaction stays open by accident.
class ScopedStatement {
 public:
  explicit ScopedStatement(Statement& stmt) : stmt_(stmt) {}
  ~ScopedStatement() { stmt_.Reset(); }
  Statement* operator->() { return &stmt_; }
  Statement& operator*() { return stmt_; }

 private:
  Statement& stmt_;
};

// A statement prepared for one use and finalized when dropped: for SQL whose
// text varies from call to call (generated query filters), which the
// per-connection cache would otherwise keep forever.
class OwnedStatement {
 public:
  OwnedStatement(sqlite3_stmt* stmt, sqlite3* db);
  ~OwnedStatement();
  OwnedStatement(OwnedStatement&& other) noexcept;
  OwnedStatement& operator=(OwnedStatement&&) = delete;
  Statement* operator->() { return stmt_.get(); }
  Statement& operator*() { return *stmt_; }

 private:
  sqlite3_stmt* raw_;
  std::unique_ptr<Statement> stmt_;
};

class Connection {
 public:
  // Opens `file`; `read_only` opens with SQLITE_OPEN_READONLY. Every
  // connection has the SQL function ns_row_in(rowid, set): whether `rowid` is
  // in a sorted row set bound with Statement::BindRowSet (SQLite's pointer
  // passing: no copy, and SQL text cannot forge one).
  static Result<std::unique_ptr<Connection>> Open(const std::string& file, bool read_only,
                                                  bool create);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  // A prepared statement cached on this connection for its whole life.
  Result<Statement*> Prepare(const std::string& sql);
  // The same for SQL in a C string (usually a literal): looked up by its
  // address first, which spares hot paths building and hashing a string per
  // call. A hit is confirmed against the statement's own text, so a buffer
  // reused for other SQL is never mistaken for the statement it held.
  Result<Statement*> Prepare(const char* sql);
  // A statement that is not cached (see OwnedStatement).
  Result<OwnedStatement> PrepareOnce(const std::string& sql);
  // A single integer from a query (e.g. "PRAGMA user_version").
  Result<int64_t> QueryInt(const std::string& sql);

  int64_t LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
  int Changes() const { return sqlite3_changes(db_); }
  sqlite3* raw() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;
  std::unordered_map<std::string, sqlite3_stmt*> raw_cache_;
  static constexpr size_t kMaxAddresses = 4096;
  std::unordered_map<const char*, Statement*> by_address_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(Connection& conn) : conn_(conn) {}
  ~Transaction();
  Status Begin();
  Status Commit();
  void Rollback();

 private:
  Connection& conn_;
  bool active_ = false;
};

// BEGIN ... COMMIT around reads that must see one snapshot; committed on
// destruction. (BEGIN is deferred: the snapshot is taken by the first read.)
// JoinOrBegin reads inside the caller's transaction when the connection is
// in one (its snapshot is what the caller wants read) and leaves it open.
class ReadTransaction {
 public:
  explicit ReadTransaction(Connection& conn) : conn_(conn) {}
  ~ReadTransaction() { End(); }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

  Status Begin() {
    NS_RETURN_IF_ERROR(conn_.Exec("BEGIN"));
    active_ = true;
    return Status::OK();
  }
  Status JoinOrBegin() {
    if (sqlite3_get_autocommit(conn_.raw()) == 0) return Status::OK();
    return Begin();
  }
  // Commits what this object began (a joined transaction goes on).
  void End() {
    if (active_) (void)conn_.Exec("COMMIT");
    active_ = false;
  }

 private:
  Connection& conn_;
  bool active_ = false;
};

}  // namespace nodespace::storage
