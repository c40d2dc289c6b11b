#include "storage/sqlite.h"

#include <algorithm>
#include <cstring>

namespace nodespace::storage {
namespace {

constexpr const char* kRowSetPointer = "nodespace_row_set";

// ns_row_in(rowid, set): 1 when `rowid` is in the bound sorted row set.
void RowInFunction(sqlite3_context* ctx, int /*argc*/, sqlite3_value** argv) {
  const auto* rows =
      static_cast<const std::vector<int64_t>*>(sqlite3_value_pointer(argv[1], kRowSetPointer));
  if (rows == nullptr) {
    sqlite3_result_error(ctx, "ns_row_in: the second argument must be a bound row set", -1);
    return;
  }
  sqlite3_result_int(ctx,
                     std::binary_search(rows->begin(), rows->end(), sqlite3_value_int64(argv[0])));
}

}  // namespace

Status FromSqlite(int rc, sqlite3* db, std::string_view context) {
  const int primary = rc & 0xFF;
  std::string msg(context);
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (primary) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return Status::OK();
    case SQLITE_FULL:
      return Status::ResourceExhausted(std::string(context) + ": disk full");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Busy(msg + " (another process holds the write lock)");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(msg);
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return Status::IOError(msg);
    case SQLITE_CONSTRAINT:
      return Status::InvalidArgument(msg);
    case SQLITE_TOOBIG:
      return Status::InvalidArgument(msg);
    case SQLITE_NOMEM:
      return Status::ResourceExhausted(msg);
    default:
      return Status::Internal(msg);
  }
}

Statement& Statement::Bind(int i, std::string_view text) {
  int rc =
      sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = FromSqlite(rc, db_, "bind");
  return *this;
}
Statement& Statement::BindUncopied(int i, std::string_view text) {
  int rc = sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = FromSqlite(rc, db_, "bind");
  return *this;
}
Statement& Statement::Bind(int i, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, i, value);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = FromSqlite(rc, db_, "bind");
  return *this;
}
Statement& Statement::BindDouble(int i, double value) {
  int rc = sqlite3_bind_double(stmt_, i, value);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = FromSqlite(rc, db_, "bind");
  return *this;
}
Statement& Statement::BindBlob(int i, const void* data, size_t bytes) {
  int rc = sqlite3_bind_blob(stmt_, i, data, static_cast<int>(bytes), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = FromSqlite(rc, db_, "bind");
  return *this;
}
Statement& Statement::BindBlobUncopied(int i, const void* data, size_t bytes) {
  int rc = sqlite3_bind_blob(stmt_, i, data, static_cast<int>(bytes), SQLITE_STATIC);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = FromSqlite(rc, db_, "bind");
  return *this;
}
Statement& Statement::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}
Statement& Statement::BindRowSet(int i, const std::vector<int64_t>* rows) {
  int rc = sqlite3_bind_pointer(stmt_, i, const_cast<std::vector<int64_t>*>(rows), kRowSetPointer,
                                nullptr);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = FromSqlite(rc, db_, "bind");
  return *this;
}

Result<bool> Statement::Step() {
  if (!bind_error_.ok()) {
    Status st = bind_error_;
    bind_error_ = Status::OK();
    return st;
  }
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status st = FromSqlite(rc, db_, "step");
  sqlite3_reset(stmt_);
  return st;
}

Status Statement::Run() {
  auto r = Step();
  Reset();
  if (!r.ok()) return r.status();
  return Status::OK();
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = Status::OK();
}

std::string_view Statement::ColumnText(int i) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
  if (!p) return {};
  return {p, static_cast<size_t>(sqlite3_column_bytes(stmt_, i))};
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& file, bool read_only,
                                                     bool create) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  flags |= read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (create && !read_only) flags |= SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(file.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status st = FromSqlite(rc, db, "cannot open '" + file + "'");
    sqlite3_close_v2(db);
    return st;
  }
  sqlite3_extended_result_codes(db, 1);
  const int frc = sqlite3_create_function_v2(db, "ns_row_in", 2, SQLITE_UTF8 | SQLITE_INNOCUOUS,
                                             nullptr, RowInFunction, nullptr, nullptr, nullptr);
  if (frc != SQLITE_OK) {
    Status st = FromSqlite(frc, db, "cannot register ns_row_in");
    sqlite3_close_v2(db);
    return st;
  }
  return std::unique_ptr<Connection>(new Connection(db));
}

Connection::~Connection() {
  cache_.clear();
  for (auto& [sql, stmt] : raw_cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Connection::Exec(std::string_view sql) {
  char* err = nullptr;
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  if (rc != SQLITE_OK) return FromSqlite(rc, db_, "exec");
  return Status::OK();
}

OwnedStatement::OwnedStatement(sqlite3_stmt* stmt, sqlite3* db)
    : raw_(stmt), stmt_(std::make_unique<Statement>(stmt, db)) {}

OwnedStatement::~OwnedStatement() {
  if (raw_) sqlite3_finalize(raw_);
}

OwnedStatement::OwnedStatement(OwnedStatement&& other) noexcept
    : raw_(other.raw_), stmt_(std::move(other.stmt_)) {
  other.raw_ = nullptr;
}

Result<OwnedStatement> Connection::PrepareOnce(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return FromSqlite(rc, db_, "prepare");
  return OwnedStatement(stmt, db_);
}

Result<Statement*> Connection::Prepare(const char* sql) {
  auto it = by_address_.find(sql);
  if (it != by_address_.end() && std::strcmp(it->second->Sql(), sql) == 0) return it->second;
  NS_ASSIGN_OR_RETURN(Statement * stmt, Prepare(std::string(sql)));
  // Literals are few; addresses of buffers that come and go are not.
  if (by_address_.size() >= kMaxAddresses) by_address_.clear();
  by_address_[sql] = stmt;
  return stmt;
}

Result<Statement*> Connection::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return it->second.get();
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return FromSqlite(rc, db_, "prepare");
  raw_cache_.emplace(sql, stmt);
  auto owned = std::make_unique<Statement>(stmt, db_);
  Statement* out = owned.get();
  cache_.emplace(sql, std::move(owned));
  return out;
}

Result<int64_t> Connection::QueryInt(const std::string& sql) {
  NS_ASSIGN_OR_RETURN(Statement * stmt, Prepare(sql));
  ScopedStatement scoped(*stmt);
  NS_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return Status::NotFound("no row");
  return stmt->ColumnInt(0);
}

Transaction::~Transaction() {
  if (active_) Rollback();
}

Status Transaction::Begin() {
  NS_RETURN_IF_ERROR(conn_.Exec("BEGIN IMMEDIATE"));
  active_ = true;
  return Status::OK();
}

Status Transaction::Commit() {
  Status st = conn_.Exec("COMMIT");
  if (!st.ok()) {
    Rollback();
    return st;
  }
  active_ = false;
  return Status::OK();
}

void Transaction::Rollback() {
  if (!active_) return;
  // A failed COMMIT may already have ended the transaction; ignore that error.
  if (!sqlite3_get_autocommit(conn_.raw())) (void)conn_.Exec("ROLLBACK");
  active_ = false;
}

}  // namespace nodespace::storage
