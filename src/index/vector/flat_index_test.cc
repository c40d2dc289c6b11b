#include "index/vector/flat_index.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "index/vector/distance.h"
#include "index/vector/test_data.h"

namespace nodespace::vector {
namespace {

// Brute force written independently of FlatIndex: sort every distance.
std::vector<int64_t> BruteForce(const std::vector<float>& data, size_t dim, Metric m,
                                const float* query, size_t k, const Filter* filter) {
  std::vector<std::pair<float, int64_t>> all;
  std::vector<float> q(query, query + dim);
  if (m == Metric::kCosine) Normalize(q.data(), dim);
  for (size_t i = 0; i < data.size() / dim; ++i) {
    if (filter && !filter->Allowed(int64_t(i))) continue;
    std::vector<float> v(data.begin() + i * dim, data.begin() + (i + 1) * dim);
    if (m == Metric::kCosine) Normalize(v.data(), dim);
    all.push_back({Distance(m, q.data(), v.data(), dim), int64_t(i)});
  }
  std::sort(all.begin(), all.end());
  std::vector<int64_t> out;
  for (size_t i = 0; i < std::min(k, all.size()); ++i) out.push_back(all[i].second);
  return out;
}

std::vector<int64_t> Labels(const SearchResult& r) {
  std::vector<int64_t> out;
  for (const Neighbor& n : r.neighbors) out.push_back(n.label);
  return out;
}

TEST(FlatIndex, MatchesBruteForceForEveryMetric) {
  const size_t dim = 24, n = 300;
  std::vector<float> data = testdata::RandomVectors(n, dim, 1);
  std::vector<float> queries = testdata::RandomVectors(10, dim, 2);
  for (Metric m : {Metric::kCosine, Metric::kDot, Metric::kL2}) {
    FlatIndex index(dim, m);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_TRUE(index.Upsert(int64_t(i), {data.data() + i * dim, dim}).ok());
    }
    for (size_t q = 0; q < 10; ++q) {
      auto r = index.Search({queries.data() + q * dim, dim}, 10);
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(Labels(*r), BruteForce(data, dim, m, queries.data() + q * dim, 10, nullptr))
          << MetricName(m);
      EXPECT_EQ(r->stats.distances_computed, n);
      EXPECT_TRUE(r->stats.exact);
    }
  }
}

TEST(FlatIndex, FilteredSearchMatchesBruteForce) {
  const size_t dim = 16, n = 500;
  std::vector<float> data = testdata::RandomVectors(n, dim, 3);
  FlatIndex index(dim, Metric::kL2);
  for (size_t i = 0; i < n; ++i)
    ASSERT_TRUE(index.Upsert(int64_t(i), {data.data() + i * dim, dim}).ok());
  std::vector<int64_t> allowed;
  LabelBitsetFilter bits(n);
  for (int64_t i = 0; i < int64_t(n); i += 7) {
    allowed.push_back(i);
    bits.Allow(i);
  }
  allowed.push_back(100000);  // not stored: skipped
  SortedLabelFilter sorted(allowed);
  const float* q = data.data() + 5 * dim;
  std::vector<int64_t> want = BruteForce(data, dim, Metric::kL2, q, 10, &sorted);
  auto a = index.SearchAllowed({q, dim}, 10, allowed);
  auto b = index.Search({q, dim}, 10, &bits);
  auto c = index.Search({q, dim}, 10, &sorted);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(Labels(*a), want);
  EXPECT_EQ(Labels(*b), want);
  EXPECT_EQ(Labels(*c), want);
  // The allowed-list path scores only allowed vectors.
  EXPECT_EQ(a->stats.distances_computed, allowed.size() - 1);
}

TEST(FlatIndex, UpsertReplacesAndRemoveCompacts) {
  FlatIndex index(2, Metric::kL2);
  ASSERT_TRUE(index.Upsert(1, std::vector<float>{0, 0}).ok());
  ASSERT_TRUE(index.Upsert(2, std::vector<float>{10, 10}).ok());
  ASSERT_TRUE(index.Upsert(3, std::vector<float>{20, 20}).ok());
  ASSERT_TRUE(index.Upsert(1, std::vector<float>{30, 30}).ok());
  EXPECT_EQ(index.size(), 3u);
  auto r = index.Search(std::vector<float>{29, 29}, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->neighbors.at(0).label, 1);
  ASSERT_TRUE(index.Remove(2).ok());
  EXPECT_EQ(index.Remove(2).code(), StatusCode::kNotFound);
  EXPECT_EQ(index.size(), 2u);
  EXPECT_FALSE(index.Contains(2));
  r = index.Search(std::vector<float>{19, 19}, 5);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->neighbors.size(), 2u);
  EXPECT_EQ(r->neighbors[0].label, 3);
  EXPECT_EQ(r->neighbors[1].label, 1);
}

TEST(FlatIndex, RejectsBadVectors) {
  FlatIndex index(3, Metric::kCosine);
  Status st = index.Upsert(1, std::vector<float>{1, 2});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("2 dims, index uses 3"), std::string::npos) << st.message();
  EXPECT_EQ(index.Upsert(1, std::vector<float>{0, 0, 0}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(index.Upsert(1, std::vector<float>{NAN, 0, 1}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(index.Search(std::vector<float>{1, 0}, 3).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nodespace::vector
