// DatabaseHolder: the server's one open Database, shared by every request,
// and replaceable as a whole for a restore.
//
// Requests hold a Lease (a shared lock) while they use the database; a
// restore takes the lock exclusively, so it waits for requests in flight,
// closes the database, replaces its files and opens it again while new
// requests wait. Long-lived streams (change feeds) take a lease per read,
// never across a wait.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "nodespace/database.h"

namespace nodespace::server {

class DatabaseHolder {
 public:
  class Lease {
   public:
    Database& operator*() const { return *db_; }
    Database* operator->() const { return db_; }
    // False while a restore has the database closed (or after Close()).
    bool valid() const { return db_ != nullptr; }

   private:
    friend class DatabaseHolder;
    Lease(std::shared_lock<std::shared_mutex> lock, Database* db)
        : lock_(std::move(lock)), db_(db) {}
    std::shared_lock<std::shared_mutex> lock_;
    Database* db_;
  };

  DatabaseHolder(std::string path, Options options, std::unique_ptr<Database> db);

  Lease Acquire() const;
  // False while a restore has the database closed.
  bool ready() const;

  // Closes the database, runs `while_closed` (which may replace its files)
  // and opens it again. The reopen's failure is returned (the holder then
  // has no database and ready() stays false until a later Replace works).
  Status Replace(const std::function<Status(const std::string& path)>& while_closed);

  // Closes the database for good (shutdown).
  void Close();

 private:
  const std::string path_;
  const Options options_;
  mutable std::shared_mutex mu_;
  std::unique_ptr<Database> db_;  // guarded by mu_
};

}  // namespace nodespace::server
