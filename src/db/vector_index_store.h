// VectorIndexStore: a database's vector index as derived state.
//
// Two kinds of index (VectorIndexKind), chosen per database and persisted in
// its `meta` table (key `vector_index`, docs/formats/vector-index.md):
//  * flat: every vector in memory, every search scores them all. Built from
//    the nodes table on the first Sync; nothing is written to disk. What a
//    small database wants: exact answers, no file, no build cost.
//  * hnsw: an HNSW graph in <db>/vectors.idx. The file records the last
//    change sequence it reflects. Sync() brings it up to the database:
//    opening the file by mmap, replaying the change log since that sequence,
//    or rebuilding from the nodes table when the file is missing, corrupt or
//    too far behind (each rebuild is reported through Options::info_log).
// Either way a crash loses index work, never vectors, and never leaves a
// stale index in use: every search syncs first.
//
// The automatic scaling manager switches kinds (UseIndexKind), rebuilds the
// graph with other parameters (Retune, persisted in meta key `vector_tuning`),
// drops tombstones (ReclaimTombstones) and gives memory back
// (ReleaseMemory). The kind and tuning are read when the store first syncs;
// another process that changes them is followed at the next open.
//
// Thread safety: all methods may be called from several threads. Mutations
// (Sync's catch-up, the maintenance methods) take mu_ exclusively; searches
// and Info share it. UseIndexKind and Retune build the new index without
// holding mu_ (searches keep using the old one meanwhile) and swap it in.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "db/vector_store.h"
#include "index/vector/flat_index.h"
#include "index/vector/hnsw_index.h"
#include "nodespace/options.h"
#include "nodespace/status.h"
#include "storage/sqlite.h"

namespace nodespace {

enum class VectorIndexKind : uint8_t {
  kFlat,  // exact scan of an in-memory copy of the vectors
  kHnsw,  // HNSW graph, saved to <db>/vectors.idx
};

// HNSW parameters chosen at run time; they override Options::hnsw_m,
// hnsw_ef_construction and hnsw_ef_search for the database that stores them.
struct VectorTuning {
  uint32_t m = 16;
  uint32_t ef_construction = 200;
  uint32_t ef_search = 128;
  bool int8 = false;  // walk the graph on 8-bit codes (HnswOptions::int8)

  bool operator==(const VectorTuning&) const = default;
};

// A rule of thumb for a graph over `vector_count` vectors (see the .cc for
// the measurements behind it).
VectorTuning TunedParametersFor(int64_t vector_count);

// What the store holds now (VectorIndexStore::Info).
struct VectorIndexInfo {
  VectorIndexKind kind = VectorIndexKind::kFlat;
  int64_t size = 0;          // live vectors
  int64_t deleted = 0;       // tombstoned graph slots (hnsw)
  int64_t memory_bytes = 0;  // owned memory, not counting a mapped file
  int64_t file_bytes = 0;    // size of vectors.idx, 0 when there is none
  bool mapped = false;       // searches read the mapped file (hnsw)
  // Bytes of the mapped file that the background warm-up after open has
  // mapped into the process so far (see VectorIndexStore::StartWarmUpLocked).
  int64_t warmed_bytes = 0;
  bool warm_up_running = false;
  VectorTuning tuning;  // in force: the graph's own, else the configured one
  bool quantizer_trained = false;
};

class VectorIndexStore : public VectorStore {
 public:
  // The index of the whole database (`partition` 0, file <dir>/vectors.idx)
  // or of one partition's nodes (file <dir>/vectors.idx where dir is the
  // partition's directory): a partition's store holds the live vectors of
  // the nodes whose partition_id is `partition`, and follows nodes moved in
  // and out of it through the change log like any other change.
  VectorIndexStore(std::string dir, const Options& options, int64_t partition = 0);
  ~VectorIndexStore() override;
  int64_t partition() const { return partition_; }

  // "flat" / "hnsw": the values of meta key `vector_index`.
  static std::string_view VectorIndexKindName(VectorIndexKind kind);

  // Applies every change up to the last one visible on `conn` (which must be
  // inside a read transaction or idle). Cheap when nothing changed. When
  // `stop` turns true, a catch-up or build that reads in slices ends at the
  // next slice with Busy; what was applied stays (a build's partial graph is
  // dropped), and the next Sync goes on from there.
  Status Sync(storage::Connection& conn, const std::atomic<bool>* stop = nullptr);

  // Nearest `k` among `allowed` (sorted rowids; null: every vector).
  // `exact` forces scoring every candidate. The store must have been synced
  // (the created_at bounds are not looked at: one index has no partitions).
  using Query = VectorQuery;
  using Answer = VectorAnswer;
  Result<Answer> Search(const Query& query) const;
  // VectorStore: Sync, then Search.
  Result<VectorAnswer> Search(storage::Connection& conn, const VectorQuery& query) override;

  // Checks every checksum of the index file (Corruption names the problem).
  Status Verify();

  // ---- maintenance (the scaling manager) ----
  // The methods that take `conn` want the caller's writer connection, idle
  // (not inside a transaction) and held exclusively for the call: the
  // setting is committed first, so a crash during the build leaves the new
  // setting and the next open builds what it names.

  // Persists `kind` and builds that index now: flat loads the vectors and
  // removes vectors.idx; hnsw builds the graph from the nodes table and saves
  // it. Logs one line with the size and the time taken.
  Status UseIndexKind(storage::Connection& conn, VectorIndexKind kind);
  // Persists `tuning` and, when the kind is hnsw, rebuilds the graph with it
  // (a flat store only records it for the graph it may build later). When
  // m and ef_construction stay, the graph stays: a new ef_search applies to
  // the next searches, and int8 turned on quantizes the graph in place
  // (seconds, not a rebuild), saved and served from its mapped file with
  // the float vectors' pages released.
  // InvalidArgument for parameters the graph cannot use.
  Status Retune(storage::Connection& conn, const VectorTuning& tuning);
  // Whether meta says this store's graph walks on floats (kind hnsw, tuning
  // without int8), read without opening or loading anything.
  Result<bool> WalksOnFloats(storage::Connection& conn) const;
  // Persists int8 codes in this store's tuning, leaving any graph in memory
  // or on disk as it is: for the database-wide tuning (the whole store's),
  // which the graphs of partitions without their own follow when built.
  Status RecordInt8Tuning(storage::Connection& conn);
  // Hnsw: when more than `min_fraction` of the graph's slots are tombstones,
  // rebuilds the graph without them (HnswIndex::Compact, which blocks
  // searches for about a rebuild's time) and saves it. Returns the slots
  // reclaimed; 0 when below the fraction, for a flat store, or before the
  // first Sync.
  Result<int64_t> ReclaimTombstones(double min_fraction);
  // Hnsw: saves the graph if it is ahead of its file, then serves searches
  // from the mapped file so the owned copy is freed (the next change copies
  // it back, see HnswIndex); a quantized graph also releases the pages of
  // its float vectors. A flat store has nothing to give back: OK.
  // A read-only store whose graph is ahead of its file keeps it (OK).
  Status ReleaseMemory() override;
  // Forgets everything held in memory, as if never synced, without saving:
  // for after the database was restored in place from a backup. The next
  // Sync re-reads the kind and opens or rebuilds the index; whoever restored
  // the database also restored or removed vectors.idx (a file newer than the
  // database is rebuilt, see Sync).
  void Invalidate();
  VectorIndexInfo Info() const;

 private:
  // The index settings stored in meta, read in one place.
  struct Settings {
    VectorIndexKind kind = VectorIndexKind::kFlat;
    std::optional<VectorTuning> tuning;  // meta `vector_tuning`, when valid
    vector::HnswOptions hnsw;            // dim 0: no vector stored yet
  };
  // A freshly built index of one kind and the change it reflects.
  struct Built {
    VectorIndexKind kind = VectorIndexKind::kFlat;
    std::unique_ptr<vector::HnswIndex> hnsw;
    std::unique_ptr<vector::FlatIndex> flat;
    Settings settings;
    int64_t seq = 0;
    double millis = 0;
  };

  Result<Settings> ReadSettings(storage::Connection& conn) const;
  // " AND partition_id = N" for a partition's store, empty otherwise.
  std::string PartitionCondition() const;
  // Meta key of the persisted tuning: a partition may have its own (a cold
  // partition is quantized) and falls back to the database's.
  std::string TuningKey() const;
  // Reads the settings and every live vector in one snapshot of `conn`.
  // Touches no member: callable without mu_. Busy when `stop` turns true
  // between two slices.
  Result<Built> Build(storage::Connection& conn, VectorIndexKind kind,
                      const std::atomic<bool>* stop = nullptr) const;
  // Caller holds mu_ exclusively: installs `built` and catches it up to the
  // change the previous index had reached.
  Status Install(storage::Connection& conn, Built built);
  // Builds and installs the index that UseIndexKind/Retune asked for.
  Status BuildAndInstall(storage::Connection& conn, VectorIndexKind kind, const std::string& what);
  // The remaining private methods need mu_ held exclusively.
  Status OpenLocked(storage::Connection& conn);
  Status OpenOrRebuildGraph(storage::Connection& conn, const Settings& settings);
  Status Rebuild(storage::Connection& conn, const std::string& why);
  // Applies the changes up to `to_seq`. `after_read`, when set, runs once
  // everything is read from the database and before the index is changed.
  Status CatchUp(storage::Connection& conn, int64_t to_seq,
                 const std::function<void()>& after_read = {});
  Status SaveLocked();
  // Opens the saved file and serves searches from its mapping (the file
  // must hold applied_seq_; kept in memory, with a log line, when another
  // process rewrote it).
  Status MapLocked();
  // Retune's shortcut when `tuning` keeps the graph's links (same m and
  // ef_construction): a new beam is only a search parameter, and int8 turned
  // on quantizes the graph in place (HnswIndex::Quantize), saves and maps
  // the file and releases the float vectors' pages. False when a rebuild is
  // needed instead (or nothing is open yet).
  Result<bool> RetuneInPlace(const VectorTuning& tuning);
  void ForgetLocked();
  void Log(const std::string& line) const;
  // A mapped graph that was just opened is served at once, and its pages
  // would fault in one 4 KiB page per touch over the first thousands of
  // searches (at 1M vectors the first searches ran at half speed, 5 s of
  // kernel time). A thread maps the file in 32 MiB steps meanwhile
  // (MappedFile::Populate), skipping float vectors whose pages were
  // released. StopWarmUp ends it at the next step and waits; it runs
  // before anything that releases pages or drops the index.
  void StartWarmUpLocked();
  void StopWarmUp();

  const std::string path_;
  const Options& options_;
  const int64_t partition_;  // 0: every node
  // Serialises UseIndexKind and Retune, which build outside mu_.
  std::mutex maintenance_mu_;
  mutable std::shared_mutex mu_;
  VectorIndexKind kind_;  // guarded by mu_; settled by the first Sync
  // At most one of the two is set, the one of kind_; null until a vector
  // exists.
  std::unique_ptr<vector::HnswIndex> index_;  // guarded by mu_
  std::unique_ptr<vector::FlatIndex> flat_;   // guarded by mu_
  VectorTuning tuning_;                       // guarded by mu_; configured tuning
  // Beam width for searches that pass ef = 0 when a persisted tuning says
  // otherwise than the opened graph's file (0: the graph's own).
  uint32_t search_ef_ = 0;   // guarded by mu_
  int64_t applied_seq_ = 0;  // guarded by mu_
  int64_t saved_seq_ = 0;    // guarded by mu_; hnsw only
  bool opened_ = false;      // guarded by mu_
  // The stop flag of the Sync in progress, for the builds it runs.
  const std::atomic<bool>* sync_stop_ = nullptr;  // guarded by mu_

  struct WarmUp {
    std::atomic<bool> stop{false};
    std::atomic<bool> running{true};
    std::atomic<int64_t> bytes{0};
  };
  // The warm-up thread and its state (the state outlives a stopped thread
  // for Info). Started and stopped under mu_ or in the destructor.
  std::thread warm_thread_;
  std::shared_ptr<WarmUp> warm_;
};

}  // namespace nodespace
