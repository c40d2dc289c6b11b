#include "model/ids.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace nodespace::ids {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

TEST(Ids, UuidV7Format) {
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewUuidV7();
    ASSERT_EQ(id.size(), 36u) << id;
    for (size_t k = 0; k < id.size(); ++k) {
      if (k == 8 || k == 13 || k == 18 || k == 23) {
        ASSERT_EQ(id[k], '-') << id;
      } else {
        ASSERT_GE(HexValue(id[k]), 0) << "lower-case hex expected: " << id;
      }
    }
    EXPECT_EQ(id[14], '7') << "version nibble: " << id;
    // Variant 0b10: the first hex digit of the fourth group is 8, 9, a or b.
    EXPECT_EQ(HexValue(id[19]) & 0xC, 0x8) << "variant bits: " << id;
    EXPECT_TRUE(IsValidId(id, 256));
    EXPECT_FALSE(IsDateId(id));
  }
}

TEST(Ids, UuidV7CarriesTheCurrentTime) {
  const TimestampMs before = NowMs();
  const std::string id = NewUuidV7();
  const TimestampMs after = NowMs();
  std::string hex = id.substr(0, 8) + id.substr(9, 4);
  const TimestampMs ms = static_cast<TimestampMs>(std::stoull(hex, nullptr, 16));
  // Never behind the clock; ahead of it only by the few milliseconds an
  // exhausted counter borrows.
  EXPECT_GE(ms, before);
  EXPECT_LT(ms, after + 60000);
}

TEST(Ids, UuidV7StrictlyIncreasingInAProcess) {
  std::string prev = NewUuidV7();
  for (int i = 0; i < 10000; ++i) {
    std::string next = NewUuidV7();
    ASSERT_LT(prev, next) << "call " << i;
    prev = std::move(next);
  }
}

TEST(Ids, UuidV7UniqueAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::vector<std::string>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&made, t] {
      for (int i = 0; i < kPerThread; ++i) made[t].push_back(NewUuidV7());
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& v : made) {
    for (size_t i = 1; i < v.size(); ++i) EXPECT_LT(v[i - 1], v[i]);  // per thread order
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(Ids, IsDateId) {
  EXPECT_TRUE(IsDateId("2024-05-01"));
  EXPECT_TRUE(IsDateId("1970-01-01"));
  EXPECT_TRUE(IsDateId("2023-12-31"));
  EXPECT_TRUE(IsDateId("2024-01-31"));
  EXPECT_TRUE(IsDateId("2024-04-30"));
  // Leap years: divisible by 4, except centuries not divisible by 400.
  EXPECT_TRUE(IsDateId("2024-02-29"));
  EXPECT_TRUE(IsDateId("2000-02-29"));
  EXPECT_TRUE(IsDateId("1600-02-29"));
  EXPECT_FALSE(IsDateId("2023-02-29"));
  EXPECT_FALSE(IsDateId("1900-02-29"));
  EXPECT_FALSE(IsDateId("2100-02-29"));
  EXPECT_FALSE(IsDateId("2024-02-30"));
  // Bad months and days.
  EXPECT_FALSE(IsDateId("2024-00-10"));
  EXPECT_FALSE(IsDateId("2024-13-01"));
  EXPECT_FALSE(IsDateId("2024-05-00"));
  EXPECT_FALSE(IsDateId("2024-05-32"));
  EXPECT_FALSE(IsDateId("2024-04-31"));
  EXPECT_FALSE(IsDateId("2024-06-31"));
  EXPECT_FALSE(IsDateId("2024-09-31"));
  EXPECT_FALSE(IsDateId("2024-11-31"));
  // Bad shapes.
  EXPECT_FALSE(IsDateId(""));
  EXPECT_FALSE(IsDateId("2024-5-01"));
  EXPECT_FALSE(IsDateId("2024-05-1"));
  EXPECT_FALSE(IsDateId("24-05-01"));
  EXPECT_FALSE(IsDateId("2024/05/01"));
  EXPECT_FALSE(IsDateId("2024-05-01T"));
  EXPECT_FALSE(IsDateId("2024-05-01 "));
  EXPECT_FALSE(IsDateId("20a4-05-01"));
  EXPECT_FALSE(IsDateId("2024-0a-01"));
  EXPECT_FALSE(IsDateId("2024-05-+1"));
  EXPECT_FALSE(IsDateId("2024005001"));
}

TEST(Ids, IsValidId) {
  EXPECT_TRUE(IsValidId("abc", 256));
  EXPECT_TRUE(IsValidId("a-b_c.d:e/f", 256));
  EXPECT_TRUE(IsValidId("caf\xC3\xA9", 256));  // UTF-8 is fine
  EXPECT_TRUE(IsValidId(std::string(256, 'x'), 256));
  EXPECT_FALSE(IsValidId(std::string(257, 'x'), 256));
  EXPECT_FALSE(IsValidId("", 256));
  EXPECT_FALSE(IsValidId("a b", 256));
  EXPECT_FALSE(IsValidId(" a", 256));
  EXPECT_FALSE(IsValidId("a\tb", 256));
  EXPECT_FALSE(IsValidId("a\nb", 256));
  EXPECT_FALSE(IsValidId("a\x01", 256));
  EXPECT_FALSE(IsValidId("a\x7F", 256));
  EXPECT_FALSE(IsValidId(std::string("a\0b", 3), 256));
}

constexpr TimestampMs kMay1 = 1714521600000;      // 2024-05-01T00:00:00Z
constexpr TimestampMs kMay1Noon = 1714564800000;  // 2024-05-01T12:00:00Z

TimestampMs Parse(std::string_view text) {
  TimestampMs ms = -12345;
  EXPECT_TRUE(ParseTimestamp(text, &ms)) << "'" << text << "' should parse";
  return ms;
}

TEST(Ids, FormatTimestamp) {
  EXPECT_EQ(FormatTimestamp(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatTimestamp(kMay1Noon), "2024-05-01T12:00:00Z");
  EXPECT_EQ(FormatTimestamp(kMay1Noon + 123), "2024-05-01T12:00:00.123Z");
  EXPECT_EQ(FormatTimestamp(kMay1Noon + 5), "2024-05-01T12:00:00.005Z");
  EXPECT_EQ(FormatTimestamp(kMay1Noon + 500), "2024-05-01T12:00:00.500Z");
  EXPECT_EQ(FormatTimestamp(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatTimestamp(951782400000), "2000-02-29T00:00:00Z");
}

TEST(Ids, ParseTimestampForms) {
  EXPECT_EQ(Parse("2024-05-01"), kMay1);
  EXPECT_EQ(Parse("1970-01-01"), 0);
  EXPECT_EQ(Parse("2024-05-01T12:00:00Z"), kMay1Noon);
  EXPECT_EQ(Parse("2024-05-01T12:00:00"), kMay1Noon);  // no zone: UTC
  EXPECT_EQ(Parse("2024-05-01 12:00:00Z"), kMay1Noon);
  EXPECT_EQ(Parse("2000-02-29T00:00:00Z"), 951782400000);
  EXPECT_EQ(Parse("1969-12-31T23:59:59.999Z"), -1);
}

TEST(Ids, ParseTimestampFractions) {
  EXPECT_EQ(Parse("2024-05-01T12:00:00.123Z"), kMay1Noon + 123);
  EXPECT_EQ(Parse("2024-05-01T12:00:00.1Z"), kMay1Noon + 100);
  EXPECT_EQ(Parse("2024-05-01T12:00:00.12Z"), kMay1Noon + 120);
  EXPECT_EQ(Parse("2024-05-01T12:00:00.000Z"), kMay1Noon);
  EXPECT_EQ(Parse("2024-05-01T12:00:00.123456789Z"), kMay1Noon + 123);  // truncated to ms
  EXPECT_EQ(Parse("2024-05-01T12:00:00.5"), kMay1Noon + 500);
}

TEST(Ids, ParseTimestampOffsets) {
  EXPECT_EQ(Parse("2024-05-01T14:00:00+02:00"), kMay1Noon);
  EXPECT_EQ(Parse("2024-05-01T17:30:00+05:30"), kMay1Noon);
  EXPECT_EQ(Parse("2024-05-01T09:00:00-03:00"), kMay1Noon);
  EXPECT_EQ(Parse("2024-05-01T12:00:00+00:00"), kMay1Noon);
  EXPECT_EQ(Parse("2024-05-01T12:00:00.250+01:00"), kMay1Noon - 3600000 + 250);
  // Offsets move the instant across a date boundary.
  EXPECT_EQ(FormatTimestamp(Parse("2024-05-01T00:30:00+01:00")), "2024-04-30T23:30:00Z");
  EXPECT_EQ(FormatTimestamp(Parse("2024-12-31T23:00:00-02:00")), "2025-01-01T01:00:00Z");
}

TEST(Ids, ParseTimestampPlainMillis) {
  EXPECT_EQ(Parse("0"), 0);
  EXPECT_EQ(Parse("1714564800123"), kMay1Noon + 123);
  EXPECT_EQ(Parse("123"), 123);
  // Every length of digits is milliseconds, ten digits included.
  EXPECT_EQ(Parse("1000000000"), 1000000000);
  EXPECT_EQ(Parse("999999999999999"), 999999999999999);
}

TEST(Ids, ParseTimestampRejects) {
  TimestampMs ms = 77;
  for (const char* bad : {"",
                          "x",
                          "2024-05",
                          "2024-13-01",
                          "2024-02-30",
                          "2024-05-01T",
                          "2024-05-01T12",
                          "2024-05-01T12:00Z",
                          "2024-05-01T24:00:00Z",
                          "2024-05-01T12:60:00Z",
                          "2024-05-01T12:00:61Z",
                          "2024-05-01T12:00:00.Z",
                          "2024-05-01T12:00:00+0200",
                          "2024-05-01T12:00:00+02",
                          "2024-05-01T12:00:00ZZ",
                          "2024-05-01T12:00:00 Z",
                          "2024-05-01X12:00:00Z",
                          "2024-05-01Z",
                          "-5",
                          "12ab",
                          "1234567890123456",
                          "2024-05-01T1a:00:00Z"}) {
    EXPECT_FALSE(ParseTimestamp(bad, &ms)) << "'" << bad << "' should not parse";
  }
  EXPECT_EQ(ms, 77);  // untouched on failure
}

TEST(Ids, TimestampRoundTrips) {
  for (TimestampMs t :
       {TimestampMs{0}, TimestampMs{1}, TimestampMs{999}, TimestampMs{-1}, TimestampMs{-86400000},
        kMay1, kMay1Noon, kMay1Noon + 1, kMay1Noon + 999, TimestampMs{951782400000},  // 2000-02-29
        TimestampMs{4102444799999},       // 2099-12-31T23:59:59.999
        TimestampMs{253402300799000}}) {  // 9999-12-31T23:59:59
    TimestampMs back = 0;
    const std::string text = FormatTimestamp(t);
    ASSERT_TRUE(ParseTimestamp(text, &back)) << text;
    EXPECT_EQ(back, t) << text;
  }
  for (const char* text : {"2024-05-01T12:00:00Z", "2024-05-01T12:00:00.001Z",
                           "2024-02-29T23:59:59.999Z", "1999-12-31T23:59:59Z"}) {
    EXPECT_EQ(FormatTimestamp(Parse(text)), text);
  }
  // Now survives the trip too.
  const TimestampMs now = NowMs();
  EXPECT_EQ(Parse(FormatTimestamp(now)), now);
}

}  // namespace
}  // namespace nodespace::ids
