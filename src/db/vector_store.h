// VectorStore: where a database's vector searches go.
//
// The engine holds its vectors as derived state of the nodes table (the
// `embedding` column is the source of truth). Three implementations answer
// searches behind this one interface:
//  * VectorIndexStore (vector_index_store.h): one index, flat or HNSW, over
//    the whole database or over one partition;
//  * PartitionedVectorStore (partitioned_vector_store.h): one
//    VectorIndexStore per partition, searched in turn and merged, pruning
//    partitions a time filter excludes; loads and unloads them (tiers);
//  * RemoteVectorStore (service/remote_vector_store.h): the same searches
//    answered by a separate `nodespace vector-service` process.
// A Qdrant (or other) adapter would be one more implementation.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "index/vector/search.h"
#include "nodespace/status.h"
#include "storage/sqlite.h"

namespace nodespace {

struct VectorQuery {
  std::span<const float> vector;
  size_t k = 10;
  size_t ef = 0;       // graph beam; 0: the index's own
  bool exact = false;  // score every candidate
  // Sorted rowids the answer may contain; null: every vector.
  const std::vector<int64_t>* allowed = nullptr;
  // Bounds on created_at the caller's filter implies (inclusive): a
  // partitioned store skips partitions whose nodes all lie outside. Only a
  // hint: the caller still applies its filter.
  std::optional<int64_t> created_min;
  std::optional<int64_t> created_max;
  // For a caller that filters the answer and re-scores what passes (a
  // search with `allowed` = those rows and `exact`): a quantized graph walk
  // ranks by its int8 codes and reads no float vectors
  // (HnswIndex::Rescore::kNone; the answer's stats say code_distances).
  bool codes_only = false;
};

struct VectorAnswer {
  vector::SearchResult result;  // nearest first
  std::string plan;
  int64_t index_size = 0;       // vectors searchable (all partitions)
  int partitions_searched = 0;  // 0 for an unpartitioned store
  int partitions_pruned = 0;
};

class VectorStore {
 public:
  virtual ~VectorStore() = default;
  // Brings the store up to at least the snapshot `conn` reads (a read
  // transaction the caller holds) and answers `query`. Rows in the answer
  // exist in that snapshot, except for a remote store, whose process may
  // have seen later writes: callers skip rows they cannot find.
  virtual Result<VectorAnswer> Search(storage::Connection& conn, const VectorQuery& query) = 0;
  // Applies the changes `conn` (in a read transaction) sees to whatever the
  // store holds in memory, without loading anything it does not hold; the
  // vector service calls it between requests so that searches find their
  // indexes caught up. Stores with nothing to apply return OK. When `stop`
  // turns true the work ends at the next slice boundary (Busy), leaving the
  // store consistent at the change it reached: a process that is shutting
  // down does not finish minutes of catch-up first.
  virtual Status ApplyChanges(storage::Connection& conn, const std::atomic<bool>* stop = nullptr) {
    (void)conn;
    (void)stop;
    return Status::OK();
  }
  // Serves what the store holds from its files and drops the pages it can
  // read again (a quantized graph's float vectors, read only to re-score):
  // the vector service calls it when its process is over its memory budget.
  // Stores with nothing to release return OK.
  virtual Status ReleaseMemory() { return Status::OK(); }
};

}  // namespace nodespace
