// PartitionedVectorStore: the vector searches of one database, whether or
// not it is partitioned (docs/PARTITIONS.md).
//
// Unpartitioned (meta `partitioning` absent, or a split still running) it is
// one VectorIndexStore over every node, file <db>/vectors.idx. Once a split
// has finished it holds one VectorIndexStore per partition, file
// <db>/partitions/p<id>/vectors.idx, loaded when a search first needs it:
// a search fans out to the partitions whose created_at range meets the
// query's bounds (the others are pruned), and merges their answers by
// distance, so it returns what one index over all vectors would (up to the
// approximation of each graph; exact searches return exactly the same).
//
// Tiers: every partition search and every write into a partition touches it
// (Touch, last_access_ms); Unload drops a partition's index from memory (it
// is saved first) and the next search that needs it loads it again.
//
// Thread safety: every method may be called from several threads; searches
// of different partitions run against stores that are themselves
// thread-safe; the map of loaded stores is guarded by mu_.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "db/vector_index_store.h"
#include "db/vector_store.h"
#include "nodespace/options.h"
#include "storage/sqlite.h"

namespace nodespace {

// What a partition looks like to the vector store and to status.
struct PartitionVectorState {
  int64_t id = 0;
  bool loaded = false;
  int64_t last_access_ms = 0;  // this process's last search of it or write into it
  VectorIndexInfo info;        // when loaded
};

class PartitionedVectorStore : public VectorStore {
 public:
  PartitionedVectorStore(std::string db_dir, const Options& options);
  ~PartitionedVectorStore() override;

  // The directory of partition `id`'s files.
  static std::string PartitionDir(const std::string& db_dir, int64_t id);

  Result<VectorAnswer> Search(storage::Connection& conn, const VectorQuery& query) override;
  // The whole-database index when not partitioned, else every loaded
  // partition's (unloaded ones stay unloaded).
  Status ApplyChanges(storage::Connection& conn, const std::atomic<bool>* stop = nullptr) override;

  // Whether the last look at the database (a search, or Refresh) found it
  // partitioned.
  bool partitioned() const { return partitioned_.load(); }
  // Reads the layout again from `conn`; returns whether it is partitioned.
  Result<bool> Refresh(storage::Connection& conn);

  // ---- maintenance: each applies to the whole-database index, or to every
  // partition's (loading those not in memory) when partitioned ----
  Status UseIndexKind(storage::Connection& conn, VectorIndexKind kind);
  Status Retune(storage::Connection& conn, const VectorTuning& tuning);
  Result<int64_t> ReclaimTombstones(double min_fraction);
  Status ReleaseMemory() override;
  // Turns int8 codes on, in place (VectorIndexStore::Retune), for the
  // whole-database graph or every loaded partition's graph that walks on
  // floats, leaving unloaded partitions alone; their float vectors' pages
  // are released. Returns how many graphs were quantized.
  Result<int> QuantizeLoaded(storage::Connection& conn);
  // QuantizeLoaded for every graph, loading (and catching up) those not in
  // memory first: for when another process (the vector service) holds them.
  // Records int8 in the database-wide tuning too, so the graphs of
  // partitions opened later (the time scheme's new ones) walk on codes.
  Result<int> QuantizeAll(storage::Connection& conn);
  // Whether the database-wide tuning (meta) still walks on floats, that is
  // QuantizeAll has not run since the graphs last went back to floats.
  Result<bool> DefaultWalksOnFloats(storage::Connection& conn) const;
  void Invalidate();
  Status Verify();
  // Sums over what is loaded (kind and tuning: the first partition's).
  VectorIndexInfo Info() const;

  // ---- partitions ----
  // Builds (or opens and catches up) the index of each of `ids` from the
  // nodes `conn` sees; the split calls it before it declares the layout
  // active, so the first searches find the indexes ready.
  Status PreparePartitions(storage::Connection& conn, const std::vector<int64_t>& ids);
  // Partition `id`'s store, loaded and synced to `conn`.
  Result<VectorIndexStore*> LoadPartition(storage::Connection& conn, int64_t id);
  // Saves partition `id`'s index if it is ahead of its file and drops it
  // from memory. Returns whether it was loaded.
  Result<bool> Unload(int64_t id);
  // Rebuilds partition `id`'s graph with its own tuning (persisted as meta
  // `vector_tuning:p<id>`); the tier manager quantizes cold partitions so.
  Status RetunePartition(storage::Connection& conn, int64_t id, const VectorTuning& tuning);
  // Compacts partition `id`'s index alone (tombstones above min_fraction).
  Result<int64_t> CompactPartition(storage::Connection& conn, int64_t id, double min_fraction);
  void Touch(int64_t id, int64_t now_ms);
  std::vector<PartitionVectorState> Partitions() const;
  // After a split: forgets the whole-database index and removes its file.
  Status DropWholeIndex();

 private:
  struct Range {
    int64_t id = 0;
    std::optional<int64_t> min_created, max_created;  // unset: no node yet
  };
  Result<std::vector<Range>> ReadRanges(storage::Connection& conn);
  // Store of partition `id`, created (not synced) when not loaded.
  Result<std::shared_ptr<VectorIndexStore>> StoreFor(int64_t id);
  std::vector<std::shared_ptr<VectorIndexStore>> LoadedStores() const;

  const std::string dir_;
  const Options& options_;
  std::atomic<bool> partitioned_{false};
  VectorIndexStore whole_;
  mutable std::mutex mu_;
  std::map<int64_t, std::shared_ptr<VectorIndexStore>> parts_;  // guarded by mu_
  std::map<int64_t, int64_t> last_access_ms_;                   // guarded by mu_
};

}  // namespace nodespace
