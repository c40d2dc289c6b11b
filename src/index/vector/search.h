// Types shared by FlatIndex and HnswIndex: results with their cost, label
// filters, and the exact-vs-graph plan helper.
//
// Thread safety: Filters are read concurrently by searches and must not change
// while a search uses them. SearchResult is a plain value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace nodespace::vector {

struct Neighbor {
  int64_t label = 0;   // the node rowid given at insert
  float distance = 0;  // smaller is closer (see Metric)
};

// What a search cost, so callers and benchmarks can see why a query was slow.
struct SearchStats {
  uint64_t distances_computed = 0;  // full-precision (float) distances
  uint64_t int8_distances = 0;      // distances on int8 codes (quantised traversal)
  uint64_t nodes_visited = 0;       // nodes whose neighbour list was expanded
  uint64_t filtered_out = 0;        // nodes reached but rejected by the filter or deleted
  uint32_t ef_used = 0;             // the beam width after adaptive widening (graph only)
  bool exact = false;               // true when every allowed vector was scored
  // Distances from int8 codes only, not re-scored with floats (a search
  // with Rescore::kNone on a quantized graph): an order, not exact values.
  bool code_distances = false;
};

struct SearchResult {
  std::vector<Neighbor> neighbors;  // closest first, at most k
  SearchStats stats;
};

// Which labels a search may return. Traversal still passes through other
// nodes; only allowed ones enter the result.
class Filter {
 public:
  virtual ~Filter() = default;
  virtual bool Allowed(int64_t label) const = 0;
  // How many labels are allowed, if known. The graph search uses it (with the
  // index size) to widen its beam for selective filters; unknown means "assume
  // most are allowed".
  virtual int64_t AllowedCountHint() const { return -1; }
};

// Allowed labels as a sorted, duplicate-free vector; membership is a binary
// search. The span must outlive the filter.
class SortedLabelFilter final : public Filter {
 public:
  explicit SortedLabelFilter(std::span<const int64_t> sorted_labels) : labels_(sorted_labels) {}
  bool Allowed(int64_t label) const override;
  int64_t AllowedCountHint() const override { return static_cast<int64_t>(labels_.size()); }
  std::span<const int64_t> labels() const { return labels_; }

 private:
  std::span<const int64_t> labels_;
};

// Allowed labels as a bitset over 0..size-1 (labels are rowids, usually
// dense). Labels outside the range are not allowed. O(1) membership; the better
// choice when many labels are allowed.
class LabelBitsetFilter final : public Filter {
 public:
  explicit LabelBitsetFilter(int64_t max_label_exclusive);
  void Allow(int64_t label);
  bool Allowed(int64_t label) const override {
    return label >= 0 && label < size_ &&
           (words_[static_cast<size_t>(label) >> 6] >> (label & 63) & 1) != 0;
  }
  int64_t AllowedCountHint() const override { return count_; }

 private:
  int64_t size_;
  int64_t count_ = 0;
  std::vector<uint64_t> words_;
};

// Exact scan or graph search for a filtered query? The caller knows the real
// number of allowed labels; this encodes what the benchmarks measured (see
// docs/formats/vector-index.md, "Choosing a plan"):
//   exact when allowed_count <= kExactMaxAllowed (a scan of that many vectors
//   is cheaper than a graph walk that must step over disallowed nodes), or when
//   the selectivity allowed_count / index_size is below kExactMaxSelectivity
//   (a graph walk reaches about 1/selectivity nodes per result it keeps), or,
//   when the caller passes the beam the graph walk would use
//   (HnswIndex::FilteredBeam; 0: unknown), when allowed_count is below
//   kExactScanPerBeam times that beam: at 1M int8 vectors (M 24) a
//   filtered walk cost 1.1-1.6 us per unit of beam (scattered reads), the
//   scan 0.055-0.08 us per allowed vector (read in address order, the
//   allowed labels' slots found with prefetched lookups): 100 candidates
//   inside a 4.5 % subtree (45,348 allowed, beam 4,444) took 5.0-7.0 ms by
//   the walk and 2.5-3.6 ms by the scan. Selective filters and large k
//   make the beam wide. A scan of float vectors (four times the bytes of
//   int8 codes) keeps the factor of 10 measured before the codes existed,
//   when it cost 0.25-0.65 us per allowed vector.
enum class SearchPlan { kExact, kGraph };
inline constexpr int64_t kExactMaxAllowed = 5000;
inline constexpr double kExactMaxSelectivity = 0.02;
inline constexpr double kExactScanPerBeam = 20;       // int8 codes
inline constexpr double kExactFloatScanPerBeam = 10;  // float vectors
SearchPlan RecommendSearchPlan(int64_t allowed_count, int64_t index_size, size_t graph_beam = 0,
                               double scan_per_beam = kExactScanPerBeam);

namespace internal {

// Keeps the k smallest distances seen; a max-heap on distance.
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) { heap_.reserve(k + 1); }
  bool full() const { return heap_.size() >= k_; }
  // The distance a newcomer must beat once full.
  float worst() const { return heap_.front().distance; }
  void Push(int64_t label, float distance);
  // Sorted closest first; leaves the TopK empty.
  std::vector<Neighbor> Take();

 private:
  size_t k_;
  std::vector<Neighbor> heap_;
};

}  // namespace internal
}  // namespace nodespace::vector
