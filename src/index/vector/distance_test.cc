#include "index/vector/distance.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>

#include "index/vector/crc32c.h"
#include "index/vector/quantizer.h"
#include "index/vector/search.h"
#include "index/vector/test_data.h"

namespace nodespace::vector {
namespace {

double NaiveDot(const float* a, const float* b, size_t d) {
  double s = 0;
  for (size_t i = 0; i < d; ++i) s += double(a[i]) * b[i];
  return s;
}
double NaiveL2(const float* a, const float* b, size_t d) {
  double s = 0;
  for (size_t i = 0; i < d; ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return s;
}

TEST(VectorDistance, KernelsMatchNaiveForEveryLength) {
  // Lengths around every vector width and tail size, plus common model sizes.
  for (size_t dim : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 100, 384, 385, 768}) {
    std::vector<float> v = testdata::RandomVectors(2, dim, dim);
    const float* a = v.data();
    const float* b = v.data() + dim;
    const double tol = 1e-4 * dim;
    EXPECT_NEAR(DotProduct(a, b, dim), NaiveDot(a, b, dim), tol) << dim;
    EXPECT_NEAR(L2Squared(a, b, dim), NaiveL2(a, b, dim), tol) << dim;
    EXPECT_NEAR(Distance(Metric::kDot, a, b, dim), -NaiveDot(a, b, dim), tol) << dim;
    EXPECT_NEAR(Distance(Metric::kL2, a, b, dim), NaiveL2(a, b, dim), tol) << dim;
    std::vector<float> na(a, a + dim), nb(b, b + dim);
    ASSERT_TRUE(Normalize(na.data(), dim));
    ASSERT_TRUE(Normalize(nb.data(), dim));
    double cos = NaiveDot(a, b, dim) / std::sqrt(NaiveDot(a, a, dim) * NaiveDot(b, b, dim));
    EXPECT_NEAR(Distance(Metric::kCosine, na.data(), nb.data(), dim), 1.0 - cos, 1e-5) << dim;
  }
}

TEST(VectorDistance, NormalizeRejectsZeroAndNonFinite) {
  std::vector<float> zero(8, 0.0f);
  EXPECT_FALSE(Normalize(zero.data(), zero.size()));
  std::vector<float> inf(8, 1.0f);
  inf[3] = INFINITY;
  EXPECT_FALSE(Normalize(inf.data(), inf.size()));
  std::vector<float> v = {3, 4};
  ASSERT_TRUE(Normalize(v.data(), 2));
  EXPECT_FLOAT_EQ(v[0], 0.6f);
  EXPECT_FLOAT_EQ(v[1], 0.8f);
}

TEST(VectorDistance, KernelNameIsKnown) {
  std::string name = ActiveKernelName();
  EXPECT_TRUE(name == "avx2+fma" || name == "portable") << name;
}

TEST(VectorQuantizer, DecodeErrorIsHalfAStep) {
  const size_t dim = 48;
  std::vector<float> v = testdata::RandomVectors(500, dim, 7);
  Int8Quantizer q = Int8Quantizer::Train(v.data(), 500, dim);
  std::vector<uint8_t> code(dim);
  std::vector<float> back(dim);
  std::vector<float> params = q.Params();
  for (size_t i = 0; i < 500; ++i) {
    q.Encode(v.data() + i * dim, code.data());
    q.Decode(code.data(), back.data());
    for (size_t d = 0; d < dim; ++d) {
      EXPECT_LE(std::fabs(back[d] - v[i * dim + d]), params[dim + d] * 0.5f + 1e-6f);
    }
  }
}

TEST(VectorQuantizer, AsymmetricDistanceEqualsDecodedDistance) {
  const size_t dim = 64;
  std::vector<float> v = testdata::RandomVectors(200, dim, 11);
  for (size_t i = 0; i < 200; ++i) Normalize(v.data() + i * dim, dim);
  Int8Quantizer q = Int8Quantizer::Train(v.data(), 200, dim);
  std::vector<uint8_t> code(dim);
  std::vector<float> decoded(dim);
  for (Metric m : {Metric::kCosine, Metric::kDot, Metric::kL2}) {
    const float* query = v.data();
    Int8Quantizer::PreparedQuery pq = q.Prepare(query, m);
    for (size_t i = 1; i < 200; ++i) {
      q.Encode(v.data() + i * dim, code.data());
      q.Decode(code.data(), decoded.data());
      float want = Distance(m, query, decoded.data(), dim);
      float got = q.Distance(pq, code.data(), q.CodeSquaredNorm(code.data()));
      EXPECT_NEAR(got, want, 1e-4) << MetricName(m) << " row " << i;
    }
  }
}

TEST(VectorDistance, U8I16KernelIsExactIntegerArithmetic) {
  // Every length around the kernel's 16- and 32-wide steps, the weights at
  // the int16 extremes and codes at 0 and 255: the sum must equal a plain
  // 64-bit loop exactly (no kernel may round or wrap).
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> weight(-32767, 32767), byte(0, 255);
  for (size_t dim : {1, 7, 15, 16, 17, 31, 32, 33, 47, 100, 384, 385, 2056}) {
    std::vector<int16_t> w(dim);
    std::vector<uint8_t> code(dim);
    for (size_t i = 0; i < dim; ++i) {
      w[i] = static_cast<int16_t>(i % 5 == 0 ? (i % 2 ? 32767 : -32767) : weight(rng));
      code[i] = static_cast<uint8_t>(i % 7 == 0 ? 255 : byte(rng));
    }
    int64_t want = 0;
    for (size_t i = 0; i < dim; ++i) want += int64_t{w[i]} * code[i];
    EXPECT_EQ(int64_t{DotProductU8I16(w.data(), code.data(), dim)}, want) << dim;
  }
}

TEST(VectorQuantizer, PreparedWeightsStayWithinTheKernelsRange) {
  // Whatever the query's scale, the integer weights use the full range the
  // kernel allows for the dimension and never more.
  for (size_t dim : {8, 384, 3000}) {
    std::vector<float> v = testdata::RandomVectors(100, dim, 17);
    Int8Quantizer q = Int8Quantizer::Train(v.data(), 100, dim);
    for (float scale : {1e-6f, 1.0f, 1e6f}) {
      std::vector<float> query(v.begin(), v.begin() + std::ptrdiff_t(dim));
      for (float& x : query) x *= scale;
      for (Metric m : {Metric::kCosine, Metric::kL2}) {
        Int8Quantizer::PreparedQuery pq = q.Prepare(query.data(), m);
        int max_abs = 0;
        for (int16_t w : pq.weights) max_abs = std::max(max_abs, std::abs(int{w}));
        const double limit = std::min(32767.0, std::floor(2147483647.0 / (255.0 * dim)));
        EXPECT_LE(max_abs, limit) << dim;
        EXPECT_GE(max_abs, limit - 1) << dim;
        EXPECT_GT(pq.unit, 0.0f);
      }
    }
  }
}

TEST(VectorQuantizer, FromParamsRejectsBadScale) {
  std::vector<float> params = {0, 0, 1, 0};  // second scale is 0
  EXPECT_EQ(Int8Quantizer::FromParams(params, 2).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Int8Quantizer::FromParams(params, 3).status().code(), StatusCode::kCorruption);
}

TEST(VectorCrc32c, KnownValues) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32c("", 0), 0u);
  // Continuing a checksum equals checksumming the concatenation.
  EXPECT_EQ(Crc32c("6789", 4, Crc32c("12345", 5)), 0xE3069283u);
}

TEST(VectorSearch, TopKKeepsSmallestSortedWithLabelTieBreak) {
  internal::TopK top(3);
  float d[] = {5, 1, 4, 1, 9, 0.5f};
  for (int i = 0; i < 6; ++i) top.Push(i, d[i]);
  std::vector<Neighbor> got = top.Take();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].label, 5);
  EXPECT_EQ(got[1].label, 1);
  EXPECT_EQ(got[2].label, 3);
}

TEST(VectorSearch, Filters) {
  std::vector<int64_t> sorted = {2, 5, 9};
  SortedLabelFilter f(sorted);
  EXPECT_TRUE(f.Allowed(5));
  EXPECT_FALSE(f.Allowed(6));
  EXPECT_EQ(f.AllowedCountHint(), 3);
  LabelBitsetFilter b(100);
  b.Allow(3);
  b.Allow(3);
  b.Allow(99);
  b.Allow(100);  // out of range: ignored
  EXPECT_TRUE(b.Allowed(3));
  EXPECT_TRUE(b.Allowed(99));
  EXPECT_FALSE(b.Allowed(100));
  EXPECT_FALSE(b.Allowed(-1));
  EXPECT_EQ(b.AllowedCountHint(), 2);
}

TEST(VectorSearch, RecommendSearchPlanThresholds) {
  EXPECT_EQ(RecommendSearchPlan(10, 1000000), SearchPlan::kExact);
  EXPECT_EQ(RecommendSearchPlan(kExactMaxAllowed, 1000000), SearchPlan::kExact);
  EXPECT_EQ(RecommendSearchPlan(15000, 1000000), SearchPlan::kExact);   // 1.5%
  EXPECT_EQ(RecommendSearchPlan(100000, 1000000), SearchPlan::kGraph);  // 10%
  EXPECT_EQ(RecommendSearchPlan(6000, 10000), SearchPlan::kGraph);
  EXPECT_EQ(RecommendSearchPlan(0, 0), SearchPlan::kExact);
  // With the walk's beam: 100 nearest inside 40,000 of 1M allowed rows make
  // a beam of 5,000 (2k / selectivity), dearer than scanning them.
  EXPECT_EQ(RecommendSearchPlan(40000, 1000000, 5000), SearchPlan::kExact);
  EXPECT_EQ(RecommendSearchPlan(45348, 1000000, 4444), SearchPlan::kExact);
  // Float vectors cost four times the bytes to scan.
  EXPECT_EQ(RecommendSearchPlan(45348, 1000000, 4444, kExactFloatScanPerBeam), SearchPlan::kGraph);
  EXPECT_EQ(RecommendSearchPlan(45000, 1000000, 960), SearchPlan::kGraph);
  EXPECT_EQ(RecommendSearchPlan(100000, 1000000, 0), SearchPlan::kGraph);
}

}  // namespace
}  // namespace nodespace::vector
