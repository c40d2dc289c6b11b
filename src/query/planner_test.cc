// The cost model ranks strategies the way the engine's operations cost.
#include "query/planner.h"

#include <gtest/gtest.h>

namespace nodespace::query {
namespace {

PlanInput VectorQuery(double selectivity, int64_t nodes) {
  PlanInput in;
  in.has_vector = true;
  in.has_filters = true;
  in.node_count = nodes;
  in.vector_count = nodes;
  in.selectivity = selectivity;
  in.filter_access_rows = static_cast<int64_t>(selectivity * static_cast<double>(nodes));
  in.depth = 10;
  return in;
}

TEST(PlannerTest, SelectiveIndexedFiltersScoreOnlyTheAllowedRows) {
  const Plan plan = ChoosePlan(VectorQuery(0.001, 1000000), QueryStrategy::kAuto);
  EXPECT_EQ(plan.strategy, QueryStrategy::kFilterFirst);
  EXPECT_FALSE(plan.forced);
  EXPECT_EQ(plan.cost_us.size(), 3u);
}

TEST(PlannerTest, BroadFiltersRankFirst) {
  const Plan plan = ChoosePlan(VectorQuery(0.5, 1000000), QueryStrategy::kAuto);
  EXPECT_NE(plan.strategy, QueryStrategy::kFilterFirst);
  EXPECT_GT(plan.cost_us.at("filter_first"), plan.cost_us.at("vector_first"));
}

TEST(PlannerTest, FiltersOnlyAScanCanEvaluateFavourRankingFirst) {
  PlanInput in = VectorQuery(0.3, 1000000);
  in.filter_access_rows = in.node_count;  // e.g. a property without an index
  const Plan plan = ChoosePlan(in, QueryStrategy::kAuto);
  EXPECT_EQ(plan.strategy, QueryStrategy::kVectorFirst);
}

TEST(PlannerTest, TextWithSelectiveFilterJoinsOrProbes) {
  PlanInput in;
  in.has_text = true;
  in.has_filters = true;
  in.node_count = 1000000;
  in.text_matches = 200000;  // a frequent word
  in.selectivity = 0.0001;
  in.filter_access_rows = 100;
  EXPECT_EQ(ChoosePlan(in, QueryStrategy::kAuto).strategy, QueryStrategy::kFilterFirst);
  in.text_matches = 50;  // a rare word: scoring its matches is cheapest
  in.selectivity = 0.5;
  in.filter_access_rows = in.node_count;
  EXPECT_NE(ChoosePlan(in, QueryStrategy::kAuto).strategy, QueryStrategy::kFilterFirst);
}

TEST(PlannerTest, SubtreesInMemoryMakeTheAllowedSetCheap) {
  // A broad word under a subtree of 3 % of a million nodes.
  PlanInput in;
  in.has_text = true;
  in.has_filters = true;
  in.node_count = 1000000;
  in.text_matches = 50000;
  in.selectivity = 0.03;
  in.filter_access_rows = 30000;
  const Plan sql = ChoosePlan(in, QueryStrategy::kAuto);
  in.filter_in_memory = true;
  const Plan memory = ChoosePlan(in, QueryStrategy::kAuto);
  // Listing the subtree in memory costs far less than through SQL, and
  // FTS5 then scores only the allowed matches.
  EXPECT_LT(memory.cost_us.at("hybrid") * 5, sql.cost_us.at("hybrid"));
  EXPECT_EQ(memory.strategy, QueryStrategy::kHybrid);
  EXPECT_LT(memory.cost_us.at("hybrid"), memory.cost_us.at("vector_first"));
}

TEST(PlannerTest, TheTextIndexMakesScoringTheAllowedRowsCheap) {
  // Words and a vector under a subtree of 4.5 % of a million nodes, listed
  // in memory: FTS5 would be probed once per allowed row, the text index
  // walks the words' matches against the allowed rows.
  PlanInput in = VectorQuery(0.045, 1000000);
  in.has_text = true;
  in.text_matches = 1500;
  in.filter_in_memory = true;
  in.depth = 100;
  const Plan fts5 = ChoosePlan(in, QueryStrategy::kAuto);
  EXPECT_NE(fts5.strategy, QueryStrategy::kFilterFirst);
  in.text_in_memory = true;
  const Plan indexed = ChoosePlan(in, QueryStrategy::kAuto);
  EXPECT_LT(indexed.cost_us.at("filter_first") * 50, fts5.cost_us.at("filter_first"));
  EXPECT_EQ(indexed.strategy, QueryStrategy::kFilterFirst);
}

TEST(PlannerTest, AHybridPlanListsTheSubtreeOnce) {
  // Words FTS5 reads as a phrase (no text index) and a vector, under a
  // subtree of 39 % of a million nodes of which 4.7 % pass the type filter:
  // the text stage lists the allowed rows, the vector stage keeps those of
  // them with a vector. The listing is paid once, so the hybrid plan costs
  // what its vector half costs plus the text matches.
  PlanInput in = VectorQuery(0.047, 1000000);
  in.filter_access_rows = 389511;
  in.filter_in_memory = true;
  in.depth = 100;
  const double vector_only = EstimateCost(QueryStrategy::kHybrid, in);
  in.has_text = true;
  in.text_matches = 1;
  const double both = EstimateCost(QueryStrategy::kHybrid, in);
  EXPECT_LT(both - vector_only, 10.0);
  EXPECT_EQ(ChoosePlan(in, QueryStrategy::kAuto).strategy, QueryStrategy::kHybrid);
  // Without a vector, the text stage pays the listing itself.
  in.has_vector = false;
  EXPECT_GT(EstimateCost(QueryStrategy::kHybrid, in), 3000.0);
}

// A vector_first walk that kept too few rows passing the filters: listing
// the allowed rows through an index that covers the filters beats walking
// thousands of neighbours further, a scan of every row does not, and a
// walk that needs only a little more stays a walk.
TEST(PlannerTest, TooFewPassingPushTheAllowedRowsDownWhenListingThemIsCheap) {
  PlanInput in = VectorQuery(0.01, 1000000);
  in.exact_max = 10000;
  in.ef = 192;
  in.filter_index_covers = true;  // e.g. a lexname IN list with a hot index
  const double far_walk = WidenedWalkCost(in, 16000);
  EXPECT_LT(PushDownCost(in), far_walk);
  // Several conditions: the listing reads the table rows to test the others.
  PlanInput fetched = in;
  fetched.filter_index_covers = false;
  EXPECT_GT(PushDownCost(fetched), PushDownCost(in));
  // Only a scan of every row can evaluate the filter.
  PlanInput scanned = in;
  scanned.filter_access_rows = scanned.node_count;
  EXPECT_GT(PushDownCost(scanned), far_walk);
  // A 50 % filter: a short widening costs less than listing half the rows.
  PlanInput broad = VectorQuery(0.5, 1000000);
  broad.filter_index_covers = true;
  EXPECT_GT(PushDownCost(broad), WidenedWalkCost(broad, 200));
  // In memory (a subtree in the hierarchy index) the listing is cheap.
  PlanInput tree = VectorQuery(0.05, 1000000);
  tree.filter_in_memory = true;
  EXPECT_LT(PushDownCost(tree), WidenedWalkCost(tree, 4000));
}

TEST(PlannerTest, WithoutFiltersTheIndexesRankAlone) {
  PlanInput in = VectorQuery(1, 1000);
  in.has_filters = false;
  EXPECT_EQ(ChoosePlan(in, QueryStrategy::kAuto).strategy, QueryStrategy::kVectorFirst);
}

TEST(PlannerTest, AForcedStrategyIsObeyedAndCosted) {
  const Plan plan = ChoosePlan(VectorQuery(0.001, 1000000), QueryStrategy::kHybrid);
  EXPECT_EQ(plan.strategy, QueryStrategy::kHybrid);
  EXPECT_TRUE(plan.forced);
  EXPECT_GT(plan.cost_us.at("hybrid"), 0);
}

}  // namespace
}  // namespace nodespace::query
