// HnswIndex: approximate nearest-neighbour search over a Hierarchical
// Navigable Small World graph (Malkov & Yashunin), written for NodeSpace.
//
// The index is derived state: labels are node rowids, the database feeds it
// from its change log and records in the file the last change applied
// (applied_seq) so that it can resume catch-up after Open.
//
// What it promises
//  * Deterministic: the same options (seed included) and the same sequence of
//    mutations give the same graph, also across Save/Open.
//  * Removed labels are tombstoned: never returned, still walked through so the
//    graph stays connected. A later Insert reuses the lowest tombstoned slot
//    (repairing the links of the old node's neighbours first), and Update
//    rewrites its own slot in place, so slot count and file size track the peak
//    live count, not the number of mutations. Compact() rebuilds without
//    tombstones when many removals are not followed by inserts.
//  * Filtered search walks through every node but only allowed labels enter
//    the result; the beam is widened when the filter says it is selective
//    (AllowedCountHint), see docs/formats/vector-index.md. For very selective
//    filters use SearchExactAllowed (see RecommendSearchPlan).
//  * With HnswOptions::int8, queries walk the graph on 8-bit codes and re-score
//    the best rescore_factor * k candidates (at most k + 256) with the float
//    vectors.
//  * Open maps the file and reads only its header: O(1) in the index size.
//    Section checksums are checked by Verify() (O(file)), or at Open with
//    OpenOptions::verify_checksums. The first mutation after Open copies the
//    mapped sections into owned memory (O(file)) and drops the mapping; until
//    then searches read the mapping in place.
//
// Thread safety: const methods (Search*, Contains, Save, Verify, accessors,
// ReleaseVectorPages) may run concurrently with each other. Insert/Update/
// Upsert/Remove/Compact/TrainQuantizer/Quantize need exclusive access: the caller holds a lock that
// excludes every other call. The index starts no threads.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <queue>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "env/env.h"
#include "index/vector/distance.h"
#include "index/vector/metric.h"
#include "index/vector/quantizer.h"
#include "index/vector/search.h"
#include "nodespace/status.h"

namespace nodespace::vector {

struct HnswOptions {
  size_t dim = 0;
  Metric metric = Metric::kCosine;
  // Links per node on levels >= 1; level 0 keeps up to 2 * m.
  uint32_t m = 16;
  uint32_t ef_construction = 200;
  // Beam width of Search when it is passed ef = 0. 128 keeps recall@10 above
  // 0.95 even on hard (random, high intrinsic dimension) data; real
  // embeddings usually reach it at 64 (docs/BENCHMARKS.md has the curve).
  uint32_t ef_search = 128;
  uint64_t seed = 42;
  // Keep 8-bit codes and walk the graph on them (see Int8Quantizer). The
  // quantiser is trained once int8_train_size vectors are stored, or by
  // TrainQuantizer(); until then searches use floats.
  bool int8 = false;
  uint32_t int8_train_size = 10000;
  // Int8 searches re-score this many times k candidates with float vectors,
  // at most k + HnswIndex::kMaxRescoreMargin.
  uint32_t rescore_factor = 4;
};

struct HnswOpenOptions {
  // Check every section's CRC32C at Open (reads the whole file).
  bool verify_checksums = false;
};

// Per-thread scratch for searches (visited marks, heaps). Reusing one avoids
// an allocation per query; a search without one uses a thread_local scratch.
// Thread safety: one SearchContext is used by one search at a time.
class SearchContext {
 public:
  SearchContext() = default;

  // A slot reached by a search and its distance to the query.
  struct Candidate {
    float distance;
    uint32_t slot;
  };

 private:
  friend class HnswIndex;
  // Starts a new search over `slots` slots; marks from older searches become
  // stale by bumping the epoch instead of clearing.
  void Begin(size_t slots);
  bool Visit(uint32_t slot) {
    if (marks_[slot] == epoch_) return false;
    marks_[slot] = epoch_;
    return true;
  }

  std::vector<uint16_t> marks_;
  uint16_t epoch_ = 0;
  std::vector<Candidate> candidates_;  // min-heap by distance
  std::vector<Candidate> results_;     // max-heap by distance
  std::vector<Candidate> side_;        // max-heap of admitted slots (side-heap mode)
};

class HnswIndex {
 public:
  // InvalidArgument when the options cannot work (dim 0, m < 2, ...).
  static Result<std::unique_ptr<HnswIndex>> Create(const HnswOptions& options);
  // Maps `path` read-only and checks its header. Corruption (with a message
  // naming the problem) for a truncated file, bad magic, unsupported version,
  // header checksum or size mismatch; the caller should rebuild the index.
  static Result<std::unique_ptr<HnswIndex>> Open(Env& env, const std::string& path,
                                                 const HnswOpenOptions& open_options = {});
  ~HnswIndex();
  HnswIndex(const HnswIndex&) = delete;
  HnswIndex& operator=(const HnswIndex&) = delete;

  // Writes the whole index to `path` through AtomicFileWriter: after a crash
  // or a failed write (e.g. disk full) `path` holds its previous contents.
  Status Save(Env& env, const std::string& path, uint64_t applied_seq) const;
  // Checks every section against its CRC32C. Corruption names the section.
  // An index never saved or opened has nothing to check and returns OK.
  Status Verify() const;

  // Adds `label`. AlreadyExists if it is stored; InvalidArgument for a vector
  // of the wrong dimension, non-finite, or zero under kCosine.
  Status Insert(int64_t label, std::span<const float> vec);
  // Replaces the vector of `label`; NotFound if it is not stored.
  Status Update(int64_t label, std::span<const float> vec);
  // Insert or Update, whichever applies (what change-log catch-up wants).
  Status Upsert(int64_t label, std::span<const float> vec);
  // Tombstones `label`; NotFound if it is not stored.
  Status Remove(int64_t label);
  // Rebuilds the graph from the live vectors, dropping every tombstone.
  Status Compact();
  // Pre-allocates room for `slots` vectors (avoids regrowth during a bulk load).
  void Reserve(size_t slots);
  // Learns the int8 ranges from the stored vectors and encodes them all.
  // InvalidArgument unless HnswOptions::int8 is set.
  Status TrainQuantizer();
  // Turns int8 on for an index built without it: sets HnswOptions::int8,
  // trains the quantiser on the stored vectors and encodes every slot. The
  // links stay as they are (graph construction uses float distances with or
  // without int8, so a rebuild would choose the same ones). A mapped index
  // stays mapped: only the codes are held in memory until the next Save and
  // Open. OK and nothing done when the quantiser is already trained.
  Status Quantize();
  // A mapped, quantized index walks the graph on its codes and reads float
  // vectors only to re-score a few candidates per search: drops the float
  // section's pages from this process's resident set, and from then on
  // graph searches and SearchExactAllowed read the floats they need with
  // pread (the kernel's page cache serves them) instead of faulting them
  // back in, each fault of which would map its neighbours too. Returns the
  // bytes released; 0 when the index is not mapped or not quantized. Safe
  // beside concurrent searches.
  size_t ReleaseVectorPages() const;

  // Whether an int8 search re-scores its best candidates with floats.
  // kNone is for a caller that filters many candidates afterwards and
  // re-scores only the few it keeps (SearchExactAllowed over them): a walk
  // of k = 2,000 would otherwise read 2,256 float vectors, each a disk read
  // once their pages are released. It answers the RescoreCount(k) best by
  // code (the candidates kBest would re-score), with their code distances
  // (stats.code_distances). Ignored on floats.
  enum class Rescore { kBest, kNone };
  // The k nearest allowed labels. ef = 0 uses options().ef_search; ef is
  // raised to at least k and widened for selective filters. filter may be null.
  Result<SearchResult> Search(std::span<const float> query, size_t k, size_t ef = 0,
                              const Filter* filter = nullptr, SearchContext* context = nullptr,
                              Rescore rescore = Rescore::kBest) const;
  // Exact: scores every live vector the filter allows (filter may be null).
  Result<SearchResult> SearchExact(std::span<const float> query, size_t k,
                                   const Filter* filter = nullptr) const;
  // The beam Search(query, k, ef, filter) walks with when the filter allows
  // allowed_count labels (see RecommendSearchPlan: its cost, beside that of
  // SearchExactAllowed over the same labels).
  size_t FilteredBeam(size_t k, size_t ef, int64_t allowed_count) const;
  // How many candidates an int8 search re-scores with floats for k results:
  // rescore_factor x k, at most k + kMaxRescoreMargin.
  static constexpr size_t kMaxRescoreMargin = 256;
  size_t RescoreCount(size_t k) const;
  // Every label of `allowed` scored (sorted ascending, no duplicates; labels
  // not stored are skipped): one lookup and one distance per allowed label,
  // read in slot order. A quantized index scores the codes and re-scores the
  // best RescoreCount(k) with floats, as its graph walk does, so its
  // answer can miss a true neighbour whose code ranked it too far back.
  Result<SearchResult> SearchExactAllowed(std::span<const float> query, size_t k,
                                          std::span<const int64_t> allowed) const;

  bool Contains(int64_t label) const { return FindSlot(label) != kNoSlot; }
  // The stored vector (unit length under kCosine); NotFound if absent.
  Result<std::vector<float>> GetVector(int64_t label) const;

  const HnswOptions& options() const { return options_; }
  // Live labels.
  size_t size() const { return live_count_; }
  // Allocated slots, live or tombstoned: what memory and file size follow.
  size_t slot_count() const { return slot_count_; }
  size_t deleted_count() const { return slot_count_ - live_count_; }
  bool quantizer_trained() const { return quantizer_.trained(); }
  // The applied_seq of the file this index was opened from or last saved to
  // (0 for a new index).
  uint64_t applied_seq() const { return applied_seq_; }
  // True while searches read the mapped file (no mutation since Open).
  bool is_mapped() const { return mapping_ != nullptr; }
  // What warming a mapped index (MappedFile::Populate, on another thread)
  // should map: every section, less the float vectors once
  // ReleaseVectorPages dropped them. `file` keeps the mapping alive for a
  // warm-up that outlives this index; null when the index is in memory.
  struct WarmRanges {
    std::shared_ptr<const MappedFile> file;
    std::vector<std::pair<const uint8_t*, size_t>> ranges;
  };
  WarmRanges RangesToWarm() const;
  // Bytes of owned memory (not counting a mapped file).
  size_t MemoryUsage() const;

 private:
  static constexpr uint32_t kNoSlot = 0xFFFFFFFFu;
  using Candidate = SearchContext::Candidate;

  explicit HnswIndex(const HnswOptions& options);

  // ---- storage --------------------------------------------------------
  // Every array is read through a const pointer that points into the mapping
  // (after Open) or into the owned vector (after the first mutation).
  void EnsureMutable();
  void RefreshViews();
  uint32_t FindSlot(int64_t label) const;
  // FindSlot for each of `sorted_labels` (ascending), skipping those not
  // stored, in their order.
  std::vector<uint32_t> SlotsOf(std::span<const int64_t> sorted_labels) const;
  const float* VectorAt(uint32_t slot) const {
    if (slot < file_float_slots_) return file_floats_ + size_t{slot} * options_.dim;
    return vectors_ + size_t{slot - file_float_slots_} * options_.dim;
  }
  // Writes the floats kept in the file (file_float_slots_) to `w`.
  Status AppendFileFloats(AtomicFileWriter& w) const;
  // Copies the floats kept in the file (file_float_slots_) into
  // own_vectors_: a slot whose floats are there gets a new vector.
  void OwnFileFloats();
  // VectorAt, or a copy read into `scratch` (dim floats) once the float
  // pages were released (see ReleaseVectorPages).
  const float* ReadVector(uint32_t slot, float* scratch) const;
  // Called for each of a search's candidates before it re-scores them with
  // ReadVector: once the float pages are released, asks the kernel to read
  // the slot's floats ahead (MappedFile::WillRead), so that the candidates'
  // reads overlap.
  void AnnounceVectorRead(uint32_t slot) const;
  // The file whose pages hold `slot`'s floats once they are released; null
  // when they are in memory.
  const MappedFile* FloatFileOf(uint32_t slot) const;
  const uint32_t* LinksAt(uint32_t slot, int level) const {
    return level == 0 ? links0_ + size_t{slot} * (m0_ + 1)
                      : upper_links_ + upper_offsets_[slot] + size_t(level - 1) * (options_.m + 1);
  }
  uint32_t* MutableLinksAt(uint32_t slot, int level) {
    return const_cast<uint32_t*>(LinksAt(slot, level));
  }
  bool IsDeleted(uint32_t slot) const { return (flags_[slot] & 1) != 0; }
  uint32_t MaxLinks(int level) const { return level == 0 ? m0_ : options_.m; }

  // ---- graph ----------------------------------------------------------
  int RandomLevel();
  float SlotDistance(uint32_t a, uint32_t b) const {
    return dist_(VectorAt(a), VectorAt(b), options_.dim);
  }
  // Greedy descent on one level from `start`; returns the closest slot found.
  template <typename DistFn>
  uint32_t GreedyClosest(uint32_t start, float* start_dist, int level, DistFn&& dist,
                         SearchStats& stats) const;
  // Beam search on one level; leaves the ef best accepted slots as a max-heap
  // in ctx.results_. The caller has called ctx.Begin(). side_k > 0 selects
  // side-heap mode (see the .cc) and returns the side_k best accepted slots.
  template <typename DistFn, typename AcceptFn, typename PrefetchFn>
  void SearchLevel(uint32_t entry, float entry_dist, int level, size_t ef, size_t side_k,
                   DistFn&& dist, AcceptFn&& accept, PrefetchFn&& prefetch, SearchContext& ctx,
                   SearchStats& stats) const;
  // The HNSW neighbour-selection heuristic: keep a candidate only if it is
  // closer to the base than to every neighbour kept so far. `cands` sorted
  // closest first.
  void SelectNeighbors(std::vector<Candidate>& cands, uint32_t max_count) const;
  // Links `slot` (vector already stored, links empty) into the graph at levels
  // 0..levels_[slot], starting the descent at `entry` on `entry_level`.
  void Connect(uint32_t slot, uint32_t entry, int entry_level);
  void AddLink(uint32_t from, uint32_t to, int level);
  // Detaches the old node in `slot` from its neighbours' lists (repairing them
  // from the old node's own neighbours) and clears its links.
  void Unlink(uint32_t slot);
  // An entry point (slot, level) for a descent that must not start at
  // `avoid`; kNoSlot when `avoid` is the only node reachable.
  std::pair<uint32_t, int> EntryAvoiding(uint32_t avoid) const;
  // The share of slots a search may return: live ones, at most
  // `allowed_count` of them (negative: unknown, every live one).
  double AdmittedFraction(int64_t allowed_count) const;
  // The beam width for a search of k with a requested ef.
  size_t EffectiveEf(size_t k, size_t ef, double admitted) const;
  // Below this admitted fraction, filtered searches keep rejected nodes in the
  // beam (so they stop like an unfiltered walk) and collect admitted ones on
  // the side; above it only admitted nodes enter the beam. At 1M vectors and
  // half of them admitted, the side heap answered with p95 1.4-1.9 ms and
  // recall 0.977 where the admitted-only beam took 2.9-3.3 ms for 0.988
  // (docs/BENCHMARKS.md); 0.3 had been chosen at 100K.
  static constexpr double kSideHeapBelow = 0.6;
  void StoreVector(uint32_t slot, const std::vector<float>& v);
  // Trains the quantiser on every slot's vector and encodes them all into
  // own_codes_ / own_code_norms_ (the views are the caller's to point).
  void TrainAndEncode();
  uint32_t AllocateSlot(int64_t label);

  Result<std::vector<float>> CheckQuery(std::span<const float> query) const;
  Status CheckOptions() const;

  HnswOptions options_;
  uint32_t m0_;
  DistanceFn dist_;
  double level_mult_;
  uint64_t rng_state_;

  uint32_t slot_count_ = 0;
  uint32_t live_count_ = 0;
  uint32_t entry_point_ = kNoSlot;
  int max_level_ = -1;
  uint64_t applied_seq_ = 0;
  Int8Quantizer quantizer_;

  // Views (see EnsureMutable).
  const float* vectors_ = nullptr;
  const uint32_t* links0_ = nullptr;  // per slot: count, then m0_ slots
  const int64_t* labels_ = nullptr;
  const uint8_t* levels_ = nullptr;
  const uint8_t* flags_ = nullptr;  // bit 0: deleted
  const uint32_t* upper_offsets_ = nullptr;
  const uint32_t* upper_links_ = nullptr;  // per level >= 1: count, then m slots
  const uint8_t* codes_ = nullptr;
  const float* code_norms_ = nullptr;
  size_t upper_links_size_ = 0;

  // Owned storage, used once mutable.
  std::vector<float> own_vectors_;
  std::vector<uint32_t> own_links0_;
  std::vector<int64_t> own_labels_;
  std::vector<uint8_t> own_levels_;
  std::vector<uint8_t> own_flags_;
  std::vector<uint32_t> own_upper_offsets_;
  std::vector<uint32_t> own_upper_links_;
  std::vector<uint8_t> own_codes_;
  std::vector<float> own_code_norms_;
  std::unordered_map<int64_t, uint32_t> slot_of_;
  // Tombstoned slots, lowest first, so reuse does not depend on history.
  std::priority_queue<uint32_t, std::vector<uint32_t>, std::greater<>> free_slots_;

  // Set while the index reads a mapped file; shared with warm-ups that may
  // outlive the index (RangesToWarm).
  std::shared_ptr<const MappedFile> mapping_;
  // A quantized index changed after Open keeps the float vectors of the
  // slots it was opened with in that file: its walks read codes, floats only
  // to re-score a few candidates and to link new slots, so copying them all
  // into memory (1.4 GB at 900K x 384) would buy nothing. Slots from
  // file_float_slots_ on have theirs in own_vectors_ (vectors_ points there).
  std::shared_ptr<const MappedFile> float_file_;
  const float* file_floats_ = nullptr;
  uint32_t file_float_slots_ = 0;
  uint32_t file_floats_crc_ = 0;  // of those floats, from the file's header
  // The float section's pages were released: read floats with pread.
  mutable std::atomic<bool> floats_released_{false};
  struct MappedLabelEntry {
    int64_t label;
    uint64_t slot;
  };
  const MappedLabelEntry* mapped_label_index_ = nullptr;  // sorted by label
  size_t mapped_label_count_ = 0;
  // Section checksums from the header of the opened file, for Verify().
  struct SectionRef {
    const uint8_t* data;
    size_t length;
    uint32_t crc;
  };
  std::vector<SectionRef> mapped_sections_;

  // Scratch for mutations (they are exclusive).
  SearchContext build_ctx_;
};

}  // namespace nodespace::vector
