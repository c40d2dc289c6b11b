#include "model/json_shape.h"

#include <gtest/gtest.h>

namespace nodespace::json_shape {
namespace {

TEST(JsonShape, Objects) {
  EXPECT_EQ(Classify("{}"), Shape::kObject);
  EXPECT_EQ(Classify(" {\"a\": [1, 2.5e3, true, null, \"x\\u00e9\"]} "), Shape::kObject);
  EXPECT_EQ(Classify("{\"deep\":{\"er\":{\"est\":{}}}}"), Shape::kObject);
}

TEST(JsonShape, OtherValues) {
  EXPECT_EQ(Classify("[1,2]"), Shape::kOtherValue);
  EXPECT_EQ(Classify("\"text\""), Shape::kOtherValue);
  EXPECT_EQ(Classify("42"), Shape::kOtherValue);
  EXPECT_EQ(Classify("null"), Shape::kOtherValue);
}

TEST(JsonShape, Invalid) {
  EXPECT_EQ(Classify(""), Shape::kInvalid);
  EXPECT_EQ(Classify("{\"a\":"), Shape::kInvalid);
  EXPECT_EQ(Classify("{\"a\":1} {\"b\":2}"), Shape::kInvalid);
  EXPECT_EQ(Classify("{'a':1}"), Shape::kInvalid);
  EXPECT_EQ(Classify("{\"a\":01}"), Shape::kInvalid);
  EXPECT_EQ(Classify("{\"a\":\"\\x\"}"), Shape::kInvalid);
}

TEST(JsonShape, BigIntegersAreValidJson) {
  // simdjson refuses integers past 64 bits; JSON (and nlohmann) accept them.
  EXPECT_EQ(Classify("{\"n\": 123456789012345678901234567890}"), Shape::kObject);
}

TEST(JsonShape, NestingBeyondTheLimitIsRefused) {
  auto nested = [](int levels) {
    return "{\"a\":" + std::string(levels - 1, '[') + std::string(levels - 1, ']') + "}";
  };
  EXPECT_EQ(Classify(nested(kMaxNesting)), Shape::kObject);
  EXPECT_EQ(Classify(nested(kMaxNesting + 1)), Shape::kTooDeep);
  // Brackets inside strings do not count.
  EXPECT_EQ(Classify("{\"a\":\"" + std::string(2000, '[') + "\"}"), Shape::kObject);
}

}  // namespace
}  // namespace nodespace::json_shape
