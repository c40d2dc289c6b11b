// Random vectors and recall helpers for the vector index tests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "index/vector/search.h"

namespace nodespace::vector::testdata {

// `n` x `dim` standard normal floats, reproducible from `seed`.
inline std::vector<float> RandomVectors(size_t n, size_t dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n * dim);
  for (float& x : v) x = normal(rng);
  return v;
}

// |got ∩ want| / |want| over labels.
inline double Recall(const std::vector<Neighbor>& got, const std::vector<Neighbor>& want) {
  if (want.empty()) return 1.0;
  std::set<int64_t> w;
  for (const Neighbor& n : want) w.insert(n.label);
  size_t hit = 0;
  for (const Neighbor& n : got) hit += w.count(n.label);
  return static_cast<double>(hit) / static_cast<double>(want.size());
}

}  // namespace nodespace::vector::testdata
