#include "model/order_key.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace nodespace::order_key {
namespace {

// Between() must succeed and return a valid key strictly between the bounds.
std::string MustBetween(const std::string& before, const std::string& after) {
  auto k = Between(before, after);
  EXPECT_TRUE(k.ok()) << "Between('" << before << "', '" << after
                      << "'): " << k.status().ToString();
  if (!k.ok()) return {};
  EXPECT_TRUE(IsValid(*k)) << *k;
  if (!before.empty()) EXPECT_LT(before, *k);
  if (!after.empty()) EXPECT_LT(*k, after);
  return *k;
}

TEST(OrderKey, FirstKeyAndAppends) {
  auto k = Between("", "");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(*k, "a0");
  std::string prev = *k;
  for (int i = 0; i < 10000; ++i) {
    auto next = Between(prev, "");
    ASSERT_TRUE(next.ok());
    ASSERT_LT(prev, *next);
    prev = *next;
  }
  EXPECT_LE(prev.size(), 4u);  // appends grow logarithmically
}

TEST(OrderKey, OpenEnds) {
  EXPECT_EQ(MustBetween("", ""), "a0");
  // Only an upper bound: a smaller key.
  EXPECT_EQ(MustBetween("", "a1"), "a0");
  EXPECT_EQ(MustBetween("", "a0"), "Zz");
  // An upper bound with a fraction: its integer part is smaller.
  EXPECT_EQ(MustBetween("", "a0V"), "a0");
  // Only a lower bound: a larger key.
  EXPECT_EQ(MustBetween("a0", ""), "a1");
  EXPECT_EQ(MustBetween("Zz", ""), "a0");
  EXPECT_EQ(MustBetween("az", ""), "b00");
  EXPECT_EQ(MustBetween("a0V", ""), "a1");
}

TEST(OrderKey, BothEnds) {
  EXPECT_EQ(MustBetween("a0", "a2"), "a1");
  MustBetween("a0", "a1");
  MustBetween("a0", "a0V");
  MustBetween("a0V", "a1");
  MustBetween("a0V", "a0W");
  MustBetween("a0", "a01");
  MustBetween("a01", "a02");
  MustBetween("a0z", "a1");
  MustBetween("Zz", "a0");
  MustBetween("Zzzz", "a0");
  MustBetween("a0", "b00");
  MustBetween("az", "b00");
  MustBetween("azzzzz", "b00");
  MustBetween("a0", "a00001");
}

TEST(OrderKey, PrependThousandsOfTimes) {
  std::string first = "a0";
  for (int i = 0; i < 10000; ++i) {
    std::string k = MustBetween("", first);
    ASSERT_FALSE(k.empty());
    first = k;
  }
  EXPECT_LE(first.size(), 4u);  // prepends grow logarithmically too
}

TEST(OrderKey, InsertThousandsOfTimesAfterTheSameKey) {
  // Always directly after `low`, i.e. between `low` and the previous insert.
  const std::string low = "a0";
  std::string high = "a1";
  for (int i = 0; i < 3000; ++i) {
    std::string k = MustBetween(low, high);
    ASSERT_FALSE(k.empty()) << "iteration " << i;
    high = k;
  }
  // Roughly one character per six inserts: grows, but linearly and slowly.
  EXPECT_GT(high.size(), 100u);
  EXPECT_LT(high.size(), 3000u / 4);
}

TEST(OrderKey, InsertThousandsOfTimesBeforeTheSameKey) {
  // Always directly before `high`, i.e. between the previous insert and `high`.
  std::string low = "a0";
  const std::string high = "a1";
  for (int i = 0; i < 3000; ++i) {
    std::string k = MustBetween(low, high);
    ASSERT_FALSE(k.empty()) << "iteration " << i;
    low = k;
  }
  EXPECT_LT(low.size(), 3000u / 4);
}

TEST(OrderKey, InsertBetweenTwoFractionalNeighbours) {
  // Start from two keys that already share a long common prefix.
  std::string low = "a0" + std::string(20, 'z');
  std::string high = "a1";
  for (int i = 0; i < 2000; ++i) {
    std::string k = MustBetween(low, high);
    ASSERT_FALSE(k.empty());
    (i % 2 == 0 ? low : high) = k;  // alternate sides: always the same gap
  }
}

TEST(OrderKey, RandomInsertsKeepAListSorted) {
  std::mt19937 rng(42);
  std::vector<std::string> keys;
  for (int i = 0; i < 5000; ++i) {
    std::uniform_int_distribution<size_t> pick(0, keys.size());
    const size_t at = pick(rng);
    const std::string before = at == 0 ? "" : keys[at - 1];
    const std::string after = at == keys.size() ? "" : keys[at];
    std::string k = MustBetween(before, after);
    ASSERT_FALSE(k.empty());
    keys.insert(keys.begin() + static_cast<std::ptrdiff_t>(at), k);
  }
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end()), keys.end());
}

TEST(OrderKey, RenumberedKeysStrictlyIncrease) {
  EXPECT_TRUE(RenumberedKeys(0).empty());
  const std::vector<std::string> keys = RenumberedKeys(20000);
  ASSERT_EQ(keys.size(), 20000u);
  EXPECT_EQ(keys.front(), "a0");
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_TRUE(IsValid(keys[i])) << keys[i];
    if (i > 0) ASSERT_LT(keys[i - 1], keys[i]) << "at " << i;
  }
  EXPECT_LE(keys.back().size(), 4u);
  // New keys fit before, between and after renumbered ones.
  MustBetween("", keys.front());
  MustBetween(keys[100], keys[101]);
  MustBetween(keys.back(), "");
}

TEST(OrderKey, IsValid) {
  EXPECT_TRUE(IsValid("a0"));
  EXPECT_TRUE(IsValid("az"));
  EXPECT_TRUE(IsValid("b00"));
  EXPECT_TRUE(IsValid("Zz"));
  EXPECT_TRUE(IsValid("Yzz"));
  EXPECT_TRUE(IsValid("a0V"));
  EXPECT_TRUE(IsValid("a001"));

  EXPECT_FALSE(IsValid(""));
  EXPECT_FALSE(IsValid("a"));       // integer part too short
  EXPECT_FALSE(IsValid("b0"));      // 'b' announces three characters
  EXPECT_FALSE(IsValid("0a"));      // bad head
  EXPECT_FALSE(IsValid("~1"));      // parked keys are never valid
  EXPECT_FALSE(IsValid("a0V0"));    // fraction ends in '0'
  EXPECT_FALSE(IsValid("a0 "));     // not a digit
  EXPECT_FALSE(IsValid("a0-"));     // not a digit
  EXPECT_FALSE(IsValid("a0\xC3"));  // not a digit
}

TEST(OrderKey, RejectsInvalidKeys) {
  for (const char* bad : {"a", "b0", "a0V0", "!!", "~5"}) {
    EXPECT_FALSE(Between(bad, "").ok()) << bad;
    EXPECT_FALSE(Between("", bad).ok()) << bad;
    EXPECT_EQ(Between(bad, "").status().code(), StatusCode::kCorruption) << bad;
  }
  EXPECT_FALSE(Between("a0", "a0V0").ok());
}

TEST(OrderKey, RejectsOutOfOrderBounds) {
  EXPECT_FALSE(Between("a1", "a0").ok());
  EXPECT_FALSE(Between("a0", "a0").ok());
  EXPECT_FALSE(Between("a0V", "a0").ok());
  EXPECT_EQ(Between("a1", "a0").status().code(), StatusCode::kInternal);
}

TEST(OrderKey, NothingBelowTheSmallestKey) {
  // The smallest integer has the longest negative head 'A' and all zero digits.
  const std::string smallest = "A" + std::string(26, '0');
  ASSERT_TRUE(IsValid(smallest));
  auto k = Between("", smallest);
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().code(), StatusCode::kResourceExhausted);
  // But there is room right after it.
  MustBetween(smallest, "");
}

TEST(OrderKey, RoomAboveTheLargestInteger) {
  const std::string largest = "z" + std::string(26, 'z');
  ASSERT_TRUE(IsValid(largest));
  std::string prev = largest;
  for (int i = 0; i < 100; ++i) prev = MustBetween(prev, "");
  EXPECT_GT(prev.size(), largest.size());
}

}  // namespace
}  // namespace nodespace::order_key
