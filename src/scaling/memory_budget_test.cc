#include "scaling/memory_budget.h"

#include <gtest/gtest.h>

namespace nodespace::scaling {
namespace {

const MemoryConfig kLarge = MemoryConfigForNodeCount(500000);  // 2,000 + 1,000 MB

TEST(MemoryBudget, SqliteGetsTheTiersCacheWhileTheRestIsSmall) {
  EXPECT_EQ(TierBudgetMb(kLarge), 3000);
  EXPECT_EQ(SqliteHeapLimitMb(kLarge, {.engine_resident_mb = 900, .sqlite_mb = 600}), 2000);
}

TEST(MemoryBudget, TheServiceAndTheEnginesOtherMemoryComeOutOfSqlitesShare) {
  // 1,600 MB of vector service and 350 MB of text and hierarchy indexes
  // leave 1,050 MB of the 3,000 for SQLite, however much it holds now.
  const MemoryUse use{.engine_resident_mb = 2350,
                      .sqlite_mb = 2000,
                      .service_resident_mb = 1600,
                      .service_running = true};
  EXPECT_EQ(SqliteHeapLimitMb(kLarge, use), 1050);
  MemoryUse less_sqlite = use;
  less_sqlite.engine_resident_mb = 650;
  less_sqlite.sqlite_mb = 300;
  EXPECT_EQ(SqliteHeapLimitMb(kLarge, less_sqlite), 1050);
}

TEST(MemoryBudget, SqliteKeepsAFloorWhenTheRestTakesEverything) {
  EXPECT_EQ(SqliteHeapFloorMb(kLarge), 250);
  EXPECT_EQ(SqliteHeapLimitMb(
                kLarge,
                {.engine_resident_mb = 2500, .service_resident_mb = 1900, .service_running = true}),
            250);
  const MemoryConfig small = MemoryConfigForNodeCount(10);  // 100 + 50 MB
  EXPECT_EQ(SqliteHeapLimitMb(small, {.engine_resident_mb = 400, .sqlite_mb = 5}), 12);
}

TEST(MemoryBudget, UnknownOrOddReadingsDoNotRaiseTheLimitPastTheCache) {
  // The resident set read before SQLite's count grew: no negative "other".
  EXPECT_EQ(SqliteHeapLimitMb(kLarge, {.engine_resident_mb = 100, .sqlite_mb = 300}), 2000);
  // A running service whose size is unknown (-1) counts as its budget.
  EXPECT_EQ(
      SqliteHeapLimitMb(
          kLarge, {.engine_resident_mb = 1000, .service_resident_mb = -1, .service_running = true}),
      1000);
}

TEST(MemoryBudget, ARunningServiceKeepsItsWholeBudgetHoweverSmallItIsNow) {
  // Just restarted, 100 MB: SQLite still gets only what the vector cache
  // (1,000 MB) leaves, since the service grows back to it.
  const MemoryUse small{.engine_resident_mb = 700,
                        .sqlite_mb = 300,
                        .service_resident_mb = 100,
                        .service_running = true};
  EXPECT_EQ(ServiceShareMb(kLarge, small), 1000);
  EXPECT_EQ(SqliteHeapLimitMb(kLarge, small), 1600);
  // Past its budget it is counted at its size.
  MemoryUse large = small;
  large.service_resident_mb = 1400;
  EXPECT_EQ(ServiceShareMb(kLarge, large), 1400);
  EXPECT_EQ(SqliteHeapLimitMb(kLarge, large), 1200);
  // None running: nothing kept.
  MemoryUse none = small;
  none.service_running = false;
  EXPECT_EQ(ServiceShareMb(kLarge, none), 0);
  EXPECT_EQ(SqliteHeapLimitMb(kLarge, none), 2000);
}

TEST(MemoryBudget, TheLimitFallsAtOnceAndRisesBySizeableSteps) {
  EXPECT_TRUE(SqliteHeapLimitShouldMove(kLarge, 2000, 1990));
  EXPECT_FALSE(SqliteHeapLimitShouldMove(kLarge, 2000, 2000));
  EXPECT_FALSE(SqliteHeapLimitShouldMove(kLarge, 1900, 2000));
  EXPECT_TRUE(SqliteHeapLimitShouldMove(kLarge, 1875, 2000));
}

TEST(MemoryBudget, AFloatGraphIsItsVectorsAndLinks) {
  // 384 floats (1,536 bytes) + 33 link words (132) + 16 = 1,684 bytes.
  EXPECT_EQ(FloatGraphMb(600000, 384, 16), 963);
  EXPECT_EQ(FloatGraphMb(0, 384, 16), 0);
  EXPECT_EQ(FloatGraphMb(1000, 0, 16), 0);
}

TEST(MemoryBudget, GraphsWalkOnCodesBeforeTheServiceOutgrowsTheVectorCache) {
  // 1,000 MB of vector cache: codes from 750 MB of float graph (~467K
  // vectors of 384 dimensions), or from a service resident over 1,000 MB.
  EXPECT_FALSE(GraphsShouldWalkOnCodes(kLarge, FloatGraphMb(400000, 384, 16), 700));
  EXPECT_TRUE(GraphsShouldWalkOnCodes(kLarge, FloatGraphMb(500000, 384, 16), 300));
  EXPECT_FALSE(GraphsShouldWalkOnCodes(kLarge, 750, 0));
  EXPECT_TRUE(GraphsShouldWalkOnCodes(kLarge, 751, 0));
  EXPECT_TRUE(GraphsShouldWalkOnCodes(kLarge, 100, 1001));
}

}  // namespace
}  // namespace nodespace::scaling
