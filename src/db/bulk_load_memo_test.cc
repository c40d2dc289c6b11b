// BulkLoadMemo: what it answers from what it was told, and when it stops.
#include "db/bulk_load_memo.h"

#include <gtest/gtest.h>

#include <string>

namespace nodespace {
namespace {

using Answer = BulkLoadMemo::Answer;

TEST(BulkLoadMemo, AnEmptyTableMakesEveryUnknownIdAbsent) {
  BulkLoadMemo memo;
  memo.Start(/*table_empty=*/true, /*data_version=*/5);
  EXPECT_EQ(memo.Exists("a"), Answer::kNo);
  ASSERT_NE(memo.LastChildKey("p"), nullptr);
  EXPECT_EQ(*memo.LastChildKey("p"), "");
  memo.Created("p", "", "a0", /*appended=*/true);
  memo.Created("c1", "p", "a0", true);
  memo.Created("c0", "p", "Z", /*appended=*/false);  // placed first: not the last
  EXPECT_EQ(memo.Exists("c0"), Answer::kYes);
  EXPECT_EQ(*memo.LastChildKey("p"), "a0");
  memo.Created("c2", "p", "a1", false);  // placed after the last: the last now
  EXPECT_EQ(*memo.LastChildKey("p"), "a1");

  memo.CheckDataVersion(5);  // nobody else wrote
  EXPECT_EQ(memo.Exists("c2"), Answer::kYes);
  memo.CheckDataVersion(6);  // another connection committed
  EXPECT_EQ(memo.Exists("c2"), Answer::kUnknown);
  EXPECT_EQ(memo.LastChildKey("p"), nullptr);
}

TEST(BulkLoadMemo, ATableWithRowsLeavesUnknownIdsToTheTable) {
  BulkLoadMemo memo;
  memo.Start(/*table_empty=*/false, 1);
  EXPECT_EQ(memo.Exists("old"), Answer::kUnknown);
  memo.Found("old");
  EXPECT_EQ(memo.Exists("old"), Answer::kYes);
  memo.Created("x", "old", "b", /*appended=*/false);
  EXPECT_EQ(memo.LastChildKey("old"), nullptr);  // its other children are unknown
  memo.Created("y", "old", "c", /*appended=*/true);
  ASSERT_NE(memo.LastChildKey("old"), nullptr);
  EXPECT_EQ(*memo.LastChildKey("old"), "c");
}

TEST(BulkLoadMemo, TheParentAskedAboutLastIsForgottenWithTheRest) {
  BulkLoadMemo memo;
  memo.Start(/*table_empty=*/true, 1);
  memo.Created("p", "", "a0", /*appended=*/true);
  memo.Created("c", "p", "a0", true);
  // The same parent three times, as a create asks: answered from the last
  // node found.
  EXPECT_EQ(memo.Exists("p"), Answer::kYes);
  EXPECT_EQ(*memo.LastChildKey("p"), "a0");
  memo.Created("d", "p", "a1", true);
  EXPECT_EQ(*memo.LastChildKey("p"), "a1");
  EXPECT_EQ(*memo.LastChildKey(""), "a0");  // the roots' last key
  memo.Forget();
  EXPECT_EQ(memo.Exists("p"), Answer::kUnknown);
  EXPECT_EQ(memo.LastChildKey("p"), nullptr);
  EXPECT_EQ(memo.LastChildKey(""), nullptr);
  // Found again after forgetting: exists, but its children are unknown.
  memo.Found("p");
  EXPECT_EQ(memo.Exists("p"), Answer::kYes);
  EXPECT_EQ(memo.LastChildKey("p"), nullptr);
}

TEST(BulkLoadMemo, PastItsLimitItForgetsAndStopsClaimingToKnowEverything) {
  BulkLoadMemo memo(/*max_ids=*/3);
  memo.Start(/*table_empty=*/true, 1);
  for (const char* id : {"a", "b", "c"}) memo.Created(id, "", id, true);
  EXPECT_EQ(memo.Exists("a"), Answer::kYes);
  memo.Created("d", "", "d", true);
  EXPECT_EQ(memo.Exists("a"), Answer::kUnknown);  // forgotten, and no longer complete
  EXPECT_EQ(memo.Exists("zz"), Answer::kUnknown);
  EXPECT_EQ(memo.Exists("d"), Answer::kYes);
  memo.Stop();
  EXPECT_FALSE(memo.active());
}

// The table moves its entries when it grows, under the entry a create
// asked about last: the answers about that parent must not change.
TEST(BulkLoadMemo, AnswersStayRightWhileTheTableGrows) {
  BulkLoadMemo memo;
  memo.Start(/*table_empty=*/true, 1);
  memo.Created("p", "", "a0", /*appended=*/true);
  std::string last_key;  // p has no child yet: its last child's key is ""
  for (int i = 0; i < 20000; ++i) {
    ASSERT_EQ(memo.Exists("p"), Answer::kYes);  // p is the entry asked about last
    const std::string* last = memo.LastChildKey("p");
    ASSERT_NE(last, nullptr);
    ASSERT_EQ(*last, last_key) << i;
    last_key = "a" + std::to_string(100000 + i);
    memo.Created("c" + std::to_string(i), "p", last_key, /*appended=*/true);
    // A child of each child: the children become parents, with keys of their own.
    memo.Created("g" + std::to_string(i), "c" + std::to_string(i), "k" + std::to_string(i), true);
  }
  EXPECT_EQ(*memo.LastChildKey("p"), last_key);
  EXPECT_EQ(*memo.LastChildKey("c123"), "k123");
  EXPECT_EQ(*memo.LastChildKey("g123"), "");  // complete: a leaf has no children
  EXPECT_EQ(memo.Exists("g19999"), Answer::kYes);
  EXPECT_EQ(memo.Exists("g20000"), Answer::kNo);
}

}  // namespace
}  // namespace nodespace
