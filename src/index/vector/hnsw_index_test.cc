#include "index/vector/hnsw_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "index/vector/test_data.h"

namespace nodespace::vector {
namespace {

using testdata::RandomVectors;
using testdata::Recall;

std::unique_ptr<HnswIndex> Build(const std::vector<float>& data, size_t dim, HnswOptions opt) {
  opt.dim = dim;
  auto index = HnswIndex::Create(opt);
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  for (size_t i = 0; i < data.size() / dim; ++i) {
    Status st = (*index)->Insert(int64_t(i), {data.data() + i * dim, dim});
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  return std::move(*index);
}

// Mean recall@k of the graph search against the index's own exact search.
double MeanRecall(const HnswIndex& index, const std::vector<float>& queries, size_t k, size_t ef,
                  const Filter* filter = nullptr) {
  const size_t dim = index.options().dim;
  const size_t nq = queries.size() / dim;
  double sum = 0;
  for (size_t q = 0; q < nq; ++q) {
    std::span<const float> query(queries.data() + q * dim, dim);
    auto got = index.Search(query, k, ef, filter);
    auto want = index.SearchExact(query, k, filter);
    EXPECT_TRUE(got.ok() && want.ok());
    if (filter != nullptr) {
      for (const Neighbor& n : got->neighbors) EXPECT_TRUE(filter->Allowed(n.label));
    }
    sum += Recall(got->neighbors, want->neighbors);
  }
  return sum / double(nq);
}

TEST(HnswIndex, RecallAt10On5kRandom64dWithDefaults) {
  const size_t dim = 64;
  std::vector<float> data = RandomVectors(5000, dim, 42);
  auto index = Build(data, dim, HnswOptions{});
  EXPECT_EQ(index->size(), 5000u);
  std::vector<float> queries = RandomVectors(100, dim, 4242);
  double recall = MeanRecall(*index, queries, 10, 0);
  EXPECT_GE(recall, 0.95);
  auto r = index->Search({queries.data(), dim}, 10);
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->stats.distances_computed, 0u);
  EXPECT_GT(r->stats.nodes_visited, 0u);
  EXPECT_LT(r->stats.distances_computed, 5000u);  // it did not scan everything
}

TEST(HnswIndex, EveryMetricFindsNeighbours) {
  const size_t dim = 32;
  std::vector<float> data = RandomVectors(1000, dim, 5);
  std::vector<float> queries = RandomVectors(30, dim, 6);
  for (Metric m : {Metric::kCosine, Metric::kDot, Metric::kL2}) {
    HnswOptions opt;
    opt.metric = m;
    opt.m = 12;
    opt.ef_construction = 64;
    auto index = Build(data, dim, opt);
    EXPECT_GE(MeanRecall(*index, queries, 10, 100), 0.95) << MetricName(m);
  }
}

TEST(HnswIndex, DeterministicForASeed) {
  const size_t dim = 16;
  std::vector<float> data = RandomVectors(800, dim, 8);
  HnswOptions opt;
  opt.m = 8;
  opt.seed = 99;
  auto a = Build(data, dim, opt);
  auto b = Build(data, dim, opt);
  std::vector<float> queries = RandomVectors(20, dim, 9);
  for (size_t q = 0; q < 20; ++q) {
    std::span<const float> query(queries.data() + q * dim, dim);
    auto ra = a->Search(query, 10, 20);
    auto rb = b->Search(query, 10, 20);
    ASSERT_TRUE(ra.ok() && rb.ok());
    ASSERT_EQ(ra->neighbors.size(), rb->neighbors.size());
    for (size_t i = 0; i < ra->neighbors.size(); ++i) {
      EXPECT_EQ(ra->neighbors[i].label, rb->neighbors[i].label);
    }
    EXPECT_EQ(ra->stats.distances_computed, rb->stats.distances_computed);
  }
}

// Filters at 1%, 10% and 50% of 3,000 points against brute force over the
// allowed set: results are always allowed; graph recall >= 0.95 at 10% and
// 50%; the exact path (what RecommendSearchPlan picks at 1%) is exact.
TEST(HnswIndex, FilteredSearchAgainstBruteForce) {
  const size_t dim = 32, n = 3000;
  std::vector<float> data = RandomVectors(n, dim, 12);
  HnswOptions opt;
  opt.ef_construction = 64;
  auto index = Build(data, dim, opt);
  std::vector<float> queries = RandomVectors(50, dim, 13);
  std::mt19937_64 rng(77);
  for (double selectivity : {0.01, 0.10, 0.50}) {
    std::vector<int64_t> allowed;
    std::bernoulli_distribution pick(selectivity);
    for (size_t i = 0; i < n; ++i) {
      if (pick(rng)) allowed.push_back(int64_t(i));
    }
    SortedLabelFilter filter(allowed);
    double recall = MeanRecall(*index, queries, 10, 64, &filter);
    if (selectivity >= 0.1) EXPECT_GE(recall, 0.95) << selectivity;
    // The exact path agrees with brute force through the filter.
    for (size_t q = 0; q < 10; ++q) {
      std::span<const float> query(queries.data() + q * dim, dim);
      auto exact = index->SearchExactAllowed(query, 10, allowed);
      auto brute = index->SearchExact(query, 10, &filter);
      ASSERT_TRUE(exact.ok() && brute.ok());
      EXPECT_EQ(Recall(exact->neighbors, brute->neighbors), 1.0);
      EXPECT_EQ(exact->stats.distances_computed, allowed.size());
    }
    EXPECT_EQ(RecommendSearchPlan(int64_t(allowed.size()), int64_t(n)), SearchPlan::kExact);
    // FilteredBeam predicts the beam the filtered walk uses.
    auto walk = index->Search({queries.data(), dim}, 10, 64, &filter);
    ASSERT_TRUE(walk.ok());
    EXPECT_EQ(walk->stats.ef_used, index->FilteredBeam(10, 64, int64_t(allowed.size())));
  }
}

TEST(HnswIndex, Int8RescoringKeepsFloatRecall) {
  const size_t dim = 64;
  std::vector<float> data = RandomVectors(2000, dim, 21);
  HnswOptions opt;
  opt.ef_construction = 100;
  opt.int8_train_size = 1000;  // trains during the build; later inserts are encoded
  // The graph is built on floats either way, so both indexes share it and
  // differ only in how queries walk it.
  auto plain = Build(data, dim, opt);
  opt.int8 = true;
  auto quantized = Build(data, dim, opt);
  ASSERT_TRUE(quantized->quantizer_trained());
  std::vector<float> queries = RandomVectors(50, dim, 22);
  const double float_recall = MeanRecall(*plain, queries, 10, 128);
  const double int8_recall = MeanRecall(*quantized, queries, 10, 128);
  EXPECT_GE(int8_recall, 0.95);
  EXPECT_GE(int8_recall, float_recall - 0.01);
  auto r = quantized->Search({queries.data(), dim}, 10, 64);
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->stats.int8_distances, 0u);
  EXPECT_EQ(r->stats.distances_computed, 40u);  // rescore_factor 4 x k 10
  EXPECT_EQ(plain->TrainQuantizer().code(), StatusCode::kInvalidArgument);
  // A large k re-scores k + 256 candidates, not 4k.
  EXPECT_EQ(quantized->RescoreCount(300), 300u + HnswIndex::kMaxRescoreMargin);
  auto wide = quantized->Search({queries.data(), dim}, 300, 1000);
  ASSERT_TRUE(wide.ok());
  EXPECT_EQ(wide->neighbors.size(), 300u);
  EXPECT_EQ(wide->stats.distances_computed, 300u + HnswIndex::kMaxRescoreMargin);
  EXPECT_FALSE(wide->stats.code_distances);
  // Without re-scoring (a caller that filters them and re-scores the few it
  // keeps): the candidates the re-score would take, by code, no float read,
  // said so.
  auto coded = quantized->Search({queries.data(), dim}, 300, 1000, nullptr, nullptr,
                                 HnswIndex::Rescore::kNone);
  ASSERT_TRUE(coded.ok());
  EXPECT_EQ(coded->neighbors.size(), 300u + HnswIndex::kMaxRescoreMargin);
  EXPECT_EQ(coded->stats.distances_computed, 0u);
  EXPECT_TRUE(coded->stats.code_distances);
  EXPECT_TRUE(
      std::is_sorted(coded->neighbors.begin(), coded->neighbors.end(),
                     [](const Neighbor& a, const Neighbor& b) { return a.distance < b.distance; }));
  // The float answer's 300 are all among them (the same walk).
  EXPECT_DOUBLE_EQ(Recall(coded->neighbors, wide->neighbors), 1.0);
  // On floats there is nothing to skip.
  auto floats =
      plain->Search({queries.data(), dim}, 10, 64, nullptr, nullptr, HnswIndex::Rescore::kNone);
  ASSERT_TRUE(floats.ok());
  EXPECT_FALSE(floats->stats.code_distances);

  // A scan of an allowed list scores the codes of every allowed vector and
  // re-scores the best 4k with floats: the float scan's answer, nearly always.
  std::vector<int64_t> allowed;
  for (int64_t label = 0; label < 2000; label += 7) allowed.push_back(label);
  double agree = 0;
  for (size_t q = 0; q < 50; ++q) {
    std::span<const float> query(queries.data() + q * dim, dim);
    auto scanned = quantized->SearchExactAllowed(query, 10, allowed);
    auto exact = plain->SearchExactAllowed(query, 10, allowed);
    ASSERT_TRUE(scanned.ok() && exact.ok());
    EXPECT_EQ(scanned->stats.int8_distances, allowed.size());
    EXPECT_EQ(scanned->stats.distances_computed, 40u);
    EXPECT_EQ(exact->stats.int8_distances, 0u);
    EXPECT_EQ(exact->stats.distances_computed, allowed.size());
    agree += Recall(scanned->neighbors, exact->neighbors);
  }
  EXPECT_GE(agree / 50, 0.98);
}

TEST(HnswIndex, RemovedLabelsAreNeverReturned) {
  const size_t dim = 16;
  std::vector<float> data = RandomVectors(1000, dim, 31);
  auto index = Build(data, dim, HnswOptions{});
  for (int64_t i = 0; i < 1000; i += 2) ASSERT_TRUE(index->Remove(i).ok());
  EXPECT_EQ(index->Remove(0).code(), StatusCode::kNotFound);
  EXPECT_EQ(index->size(), 500u);
  EXPECT_EQ(index->deleted_count(), 500u);
  std::vector<float> queries = RandomVectors(20, dim, 32);
  for (size_t q = 0; q < 20; ++q) {
    auto r = index->Search({queries.data() + q * dim, dim}, 10);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->neighbors.size(), 10u);
    for (const Neighbor& nb : r->neighbors) EXPECT_EQ(nb.label % 2, 1);
  }
  EXPECT_GE(MeanRecall(*index, queries, 10, 64), 0.95);
  EXPECT_FALSE(index->Contains(0));
  EXPECT_TRUE(index->Contains(1));
  EXPECT_EQ(index->Insert(1, {data.data(), dim}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(index->Update(0, {data.data(), dim}).code(), StatusCode::kNotFound);
}

// 20 rounds of removing and re-inserting the same 1,000 labels (with new
// vectors), then 5 rounds of in-place updates of half of them: slots never
// grow past the peak live count and recall holds. Small m and
// ef_construction keep it quick under sanitizers.
TEST(HnswIndex, ChurnReusesSlotsAndKeepsRecall) {
  const size_t dim = 16, n = 1000;
  HnswOptions opt;
  opt.m = 8;
  opt.ef_construction = 32;
  auto index = Build(RandomVectors(n, dim, 40), dim, opt);
  const size_t memory_before = index->MemoryUsage();
  std::vector<float> queries = RandomVectors(30, dim, 41);
  for (int round = 0; round < 20; ++round) {
    std::vector<float> fresh = RandomVectors(n, dim, 100 + round);
    for (size_t i = 0; i < n; ++i) ASSERT_TRUE(index->Remove(int64_t(i)).ok());
    EXPECT_EQ(index->size(), 0u);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_TRUE(index->Insert(int64_t(i), {fresh.data() + i * dim, dim}).ok());
    }
    EXPECT_EQ(index->slot_count(), n) << "round " << round;
    EXPECT_EQ(index->deleted_count(), 0u);
  }
  EXPECT_GE(MeanRecall(*index, queries, 10, 64), 0.95);
  for (int round = 0; round < 5; ++round) {
    std::vector<float> fresh = RandomVectors(n / 2, dim, 500 + round);
    for (size_t i = 0; i < n / 2; ++i) {
      ASSERT_TRUE(index->Upsert(int64_t(i * 2), {fresh.data() + i * dim, dim}).ok());
    }
    EXPECT_EQ(index->slot_count(), n);
  }
  EXPECT_GE(MeanRecall(*index, queries, 10, 64), 0.95);
  // Same arrays, same size: memory did not creep.
  EXPECT_LE(index->MemoryUsage(), memory_before + memory_before / 10);
}

TEST(HnswIndex, CompactDropsTombstones) {
  const size_t dim = 16;
  std::vector<float> data = RandomVectors(1000, dim, 50);
  auto index = Build(data, dim, HnswOptions{});
  for (int64_t i = 0; i < 1000; ++i) {
    if (i % 4 != 0) ASSERT_TRUE(index->Remove(i).ok());
  }
  EXPECT_EQ(index->slot_count(), 1000u);
  ASSERT_TRUE(index->Compact().ok());
  EXPECT_EQ(index->slot_count(), 250u);
  EXPECT_EQ(index->size(), 250u);
  EXPECT_TRUE(index->Contains(4));
  EXPECT_FALSE(index->Contains(5));
  std::vector<float> queries = RandomVectors(20, dim, 51);
  EXPECT_GE(MeanRecall(*index, queries, 10, 64), 0.95);
  ASSERT_TRUE(index->Insert(5, {data.data() + 5 * dim, dim}).ok());
  EXPECT_TRUE(index->Contains(5));
}

TEST(HnswIndex, EdgeCases) {
  HnswOptions opt;
  opt.dim = 4;
  auto index = HnswIndex::Create(opt).value();
  std::vector<float> q = {1, 0, 0, 0};
  auto r = index->Search(q, 5);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->neighbors.empty());
  ASSERT_TRUE(index->Insert(7, q).ok());
  r = index->Search(q, 5);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->neighbors.size(), 1u);
  EXPECT_EQ(r->neighbors[0].label, 7);
  EXPECT_NEAR(r->neighbors[0].distance, 0.0f, 1e-6);
  // Remove and reinsert the only node, then update it in place.
  ASSERT_TRUE(index->Remove(7).ok());
  EXPECT_TRUE(index->Search(q, 5)->neighbors.empty());
  ASSERT_TRUE(index->Insert(8, std::vector<float>{0, 1, 0, 0}).ok());
  ASSERT_TRUE(index->Update(8, std::vector<float>{0, 0, 1, 0}).ok());
  EXPECT_EQ(index->slot_count(), 1u);
  EXPECT_EQ((*index->GetVector(8))[2], 1.0f);
  EXPECT_EQ(index->Search(std::vector<float>{1, 2}, 1).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Insert(9, std::vector<float>{0, 0, 0, 0}).code(), StatusCode::kInvalidArgument);
  opt.m = 1;
  EXPECT_EQ(HnswIndex::Create(opt).status().code(), StatusCode::kInvalidArgument);
  opt.m = 16;
  opt.dim = 0;
  EXPECT_EQ(HnswIndex::Create(opt).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nodespace::vector
