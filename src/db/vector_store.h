// VectorStore: a database's vector index as derived state.
//
// The index file (<db>/vectors.idx, docs/formats/vector-index.md) records the
// last change sequence it reflects. Sync() brings it up to the database:
// opening the file by mmap, replaying the change log since that sequence, or
// rebuilding from the nodes table when the file is missing, corrupt or too
// far behind (each rebuild is reported through Options::info_log). A crash
// therefore loses index work, never vectors, and never leaves a stale index
// in use: every search syncs first.
//
// Thread safety: all methods may be called from several threads. Sync takes
// an exclusive lock; searches share one.
#pragma once

#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "index/vector/hnsw_index.h"
#include "nodespace/options.h"
#include "nodespace/status.h"
#include "storage/sqlite.h"

namespace nodespace {

class VectorStore {
 public:
  VectorStore(std::string dir, const Options& options);
  ~VectorStore();

  // Applies every change up to the last one visible on `conn` (which must be
  // inside a read transaction or idle). Cheap when nothing changed.
  Status Sync(storage::Connection& conn);

  // Nearest `k` among `allowed` (sorted rowids; null: every vector).
  // `exact` forces scoring every candidate.
  struct Query {
    std::span<const float> vector;
    size_t k = 10;
    size_t ef = 0;
    bool exact = false;
    const std::vector<int64_t>* allowed = nullptr;
  };
  struct Answer {
    vector::SearchResult result;
    std::string plan;
    int64_t index_size = 0;
  };
  Result<Answer> Search(const Query& query) const;

  // Checks every checksum of the index file (Corruption names the problem).
  Status Verify();

 private:
  Status OpenOrRebuild(storage::Connection& conn);
  Status Rebuild(storage::Connection& conn, const std::string& why);
  Status CatchUp(storage::Connection& conn, int64_t to_seq);
  Result<vector::HnswOptions> IndexOptions(storage::Connection& conn);
  Status SaveLocked();
  void Log(const std::string& line) const;

  const std::string path_;
  const Options& options_;
  mutable std::shared_mutex mu_;
  std::unique_ptr<vector::HnswIndex> index_;  // guarded by mu_; null until a vector exists
  int64_t applied_seq_ = 0;                   // guarded by mu_
  int64_t saved_seq_ = 0;                     // guarded by mu_
  bool opened_ = false;                       // guarded by mu_
};

}  // namespace nodespace
