#include "index/vector/search.h"

#include <algorithm>

namespace nodespace::vector {

bool SortedLabelFilter::Allowed(int64_t label) const {
  return std::binary_search(labels_.begin(), labels_.end(), label);
}

LabelBitsetFilter::LabelBitsetFilter(int64_t max_label_exclusive)
    : size_(std::max<int64_t>(max_label_exclusive, 0)),
      words_((static_cast<size_t>(size_) + 63) / 64, 0) {}

void LabelBitsetFilter::Allow(int64_t label) {
  if (label < 0 || label >= size_) return;
  uint64_t& w = words_[static_cast<size_t>(label) >> 6];
  uint64_t bit = uint64_t{1} << (label & 63);
  if ((w & bit) == 0) ++count_;
  w |= bit;
}

SearchPlan RecommendSearchPlan(int64_t allowed_count, int64_t index_size, size_t graph_beam,
                               double scan_per_beam) {
  if (allowed_count <= kExactMaxAllowed) return SearchPlan::kExact;
  if (index_size <= 0) return SearchPlan::kExact;
  if (static_cast<double>(allowed_count) < scan_per_beam * static_cast<double>(graph_beam)) {
    return SearchPlan::kExact;
  }
  double selectivity = static_cast<double>(allowed_count) / static_cast<double>(index_size);
  return selectivity < kExactMaxSelectivity ? SearchPlan::kExact : SearchPlan::kGraph;
}

namespace internal {

namespace {
bool Closer(const Neighbor& a, const Neighbor& b) {
  // Ties broken by label so results are deterministic.
  return a.distance < b.distance || (a.distance == b.distance && a.label < b.label);
}
}  // namespace

void TopK::Push(int64_t label, float distance) {
  if (k_ == 0) return;
  Neighbor n{label, distance};
  if (heap_.size() < k_) {
    heap_.push_back(n);
    std::push_heap(heap_.begin(), heap_.end(), Closer);
  } else if (Closer(n, heap_.front())) {
    std::pop_heap(heap_.begin(), heap_.end(), Closer);
    heap_.back() = n;
    std::push_heap(heap_.begin(), heap_.end(), Closer);
  }
}

std::vector<Neighbor> TopK::Take() {
  std::sort_heap(heap_.begin(), heap_.end(), Closer);
  return std::move(heap_);
}

}  // namespace internal
}  // namespace nodespace::vector
