// FlatIndex: exact nearest-neighbour search by scanning every stored vector.
//
// Used for small collections and for filtered queries whose allowed set is
// small (see RecommendSearchPlan). Vectors live in one contiguous array;
// Remove moves the last vector into the hole, so memory tracks the live count.
//
// Thread safety: concurrent const calls (Search*) are safe. Upsert/Remove need
// exclusive access: the caller holds a lock that excludes every other call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "index/vector/metric.h"
#include "index/vector/search.h"
#include "nodespace/status.h"

namespace nodespace::vector {

class FlatIndex {
 public:
  FlatIndex(size_t dim, Metric metric);

  size_t dim() const { return dim_; }
  Metric metric() const { return metric_; }
  size_t size() const { return labels_.size(); }
  bool Contains(int64_t label) const { return slot_of_.count(label) != 0; }

  // Inserts or replaces the vector of `label`. InvalidArgument if the vector
  // has the wrong dimension, is not finite, or is zero under kCosine.
  Status Upsert(int64_t label, std::span<const float> vec);
  // NotFound if `label` is not stored.
  Status Remove(int64_t label);

  // The k closest vectors, optionally only those `filter` allows (nullptr:
  // all). Cost: one distance per stored vector (per allowed one with a filter
  // that is a SortedLabelFilter, see SearchAllowed).
  Result<SearchResult> Search(std::span<const float> query, size_t k,
                              const Filter* filter = nullptr) const;
  // The k closest among `allowed` (sorted ascending, no duplicates; labels not
  // stored are skipped). Cost: one hash lookup + one distance per allowed label,
  // independent of the index size.
  Result<SearchResult> SearchAllowed(std::span<const float> query, size_t k,
                                     std::span<const int64_t> allowed) const;

 private:
  Result<std::vector<float>> PrepareQuery(std::span<const float> query) const;

  size_t dim_;
  Metric metric_;
  std::vector<float> vectors_;  // size() x dim_, row i belongs to labels_[i]
  std::vector<int64_t> labels_;
  std::unordered_map<int64_t, size_t> slot_of_;
};

// Checks a vector against an index's dimension and metric and returns the form
// the index stores (unit length for kCosine). Shared by every index.
Result<std::vector<float>> CheckVector(std::span<const float> vec, size_t dim, Metric metric);

}  // namespace nodespace::vector
