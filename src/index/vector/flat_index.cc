#include "index/vector/flat_index.h"

#include <cmath>
#include <string>

#include "index/vector/distance.h"

namespace nodespace::vector {

Result<std::vector<float>> CheckVector(std::span<const float> vec, size_t dim, Metric metric) {
  if (vec.size() != dim) {
    return Status::InvalidArgument("vector has " + std::to_string(vec.size()) +
                                   " dims, index uses " + std::to_string(dim));
  }
  for (float x : vec) {
    if (!std::isfinite(x)) return Status::InvalidArgument("vector has a non-finite component");
  }
  std::vector<float> out(vec.begin(), vec.end());
  if (metric == Metric::kCosine && !Normalize(out.data(), dim)) {
    return Status::InvalidArgument("vector has zero length; cosine needs a direction");
  }
  return out;
}

FlatIndex::FlatIndex(size_t dim, Metric metric) : dim_(dim), metric_(metric) {}

Status FlatIndex::Upsert(int64_t label, std::span<const float> vec) {
  NS_ASSIGN_OR_RETURN(std::vector<float> v, CheckVector(vec, dim_, metric_));
  auto it = slot_of_.find(label);
  if (it != slot_of_.end()) {
    std::copy(v.begin(), v.end(),
              vectors_.begin() + static_cast<std::ptrdiff_t>(it->second * dim_));
    return Status::OK();
  }
  slot_of_.emplace(label, labels_.size());
  labels_.push_back(label);
  vectors_.insert(vectors_.end(), v.begin(), v.end());
  return Status::OK();
}

Status FlatIndex::Remove(int64_t label) {
  auto it = slot_of_.find(label);
  if (it == slot_of_.end()) {
    return Status::NotFound("label " + std::to_string(label) + " not in the index");
  }
  size_t slot = it->second;
  size_t last = labels_.size() - 1;
  slot_of_.erase(it);
  if (slot != last) {
    std::copy(vectors_.begin() + static_cast<std::ptrdiff_t>(last * dim_), vectors_.end(),
              vectors_.begin() + static_cast<std::ptrdiff_t>(slot * dim_));
    labels_[slot] = labels_[last];
    slot_of_[labels_[slot]] = slot;
  }
  labels_.pop_back();
  vectors_.resize(last * dim_);
  return Status::OK();
}

Result<std::vector<float>> FlatIndex::PrepareQuery(std::span<const float> query) const {
  return CheckVector(query, dim_, metric_);
}

Result<SearchResult> FlatIndex::Search(std::span<const float> query, size_t k,
                                       const Filter* filter) const {
  if (auto* sorted = dynamic_cast<const SortedLabelFilter*>(filter)) {
    return SearchAllowed(query, k, sorted->labels());
  }
  NS_ASSIGN_OR_RETURN(std::vector<float> q, PrepareQuery(query));
  const DistanceFn dist = GetDistanceFn(metric_);
  SearchResult result;
  result.stats.exact = true;
  internal::TopK top(k);
  for (size_t i = 0; i < labels_.size(); ++i) {
    if (filter != nullptr && !filter->Allowed(labels_[i])) {
      ++result.stats.filtered_out;
      continue;
    }
    top.Push(labels_[i], dist(q.data(), vectors_.data() + i * dim_, dim_));
    ++result.stats.distances_computed;
  }
  result.neighbors = top.Take();
  return result;
}

Result<SearchResult> FlatIndex::SearchAllowed(std::span<const float> query, size_t k,
                                              std::span<const int64_t> allowed) const {
  NS_ASSIGN_OR_RETURN(std::vector<float> q, PrepareQuery(query));
  const DistanceFn dist = GetDistanceFn(metric_);
  SearchResult result;
  result.stats.exact = true;
  internal::TopK top(k);
  for (int64_t label : allowed) {
    auto it = slot_of_.find(label);
    if (it == slot_of_.end()) continue;
    top.Push(label, dist(q.data(), vectors_.data() + it->second * dim_, dim_));
    ++result.stats.distances_computed;
  }
  result.neighbors = top.Take();
  return result;
}

}  // namespace nodespace::vector
