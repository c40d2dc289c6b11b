#include "server/database_holder.h"

namespace nodespace::server {

DatabaseHolder::DatabaseHolder(std::string path, Options options, std::unique_ptr<Database> db)
    : path_(std::move(path)), options_(std::move(options)), db_(std::move(db)) {}

DatabaseHolder::Lease DatabaseHolder::Acquire() const {
  std::shared_lock lock(mu_);
  return Lease(std::move(lock), db_.get());
}

bool DatabaseHolder::ready() const {
  std::shared_lock lock(mu_, std::try_to_lock);
  return lock.owns_lock() && db_ != nullptr;
}

Status DatabaseHolder::Replace(const std::function<Status(const std::string& path)>& while_closed) {
  std::unique_lock lock(mu_);
  db_.reset();
  Status replaced = while_closed(path_);
  Options reopen = options_;
  reopen.create_if_missing = false;
  reopen.error_if_exists = false;
  auto db = Database::Open(path_, reopen);
  if (!db.ok()) return db.status().WithContext("reopening the database");
  db_ = std::move(*db);
  return replaced;
}

void DatabaseHolder::Close() {
  std::unique_lock lock(mu_);
  db_.reset();
}

}  // namespace nodespace::server
