// The query planner: classifies a query the way the scaling specification's
// QueryOptimizer.analyzeQueryPattern does and picks the cheapest strategy.
//
// Costs are in estimated microseconds on this engine's own operations (a row
// fetched through an index, a vector distance, a document scored by FTS5, a
// graph walk), with constants measured on the benchmark data
// (docs/BENCHMARKS.md, "Query engine"). They only need to rank the
// strategies, and a wrong choice costs time, never results: every strategy
// returns the same hits for the same query.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "nodespace/query.h"

namespace nodespace::query {

struct PlanInput {
  bool has_text = false;
  bool has_vector = false;
  bool has_filters = false;
  int64_t node_count = 0;    // active nodes
  int64_t vector_count = 0;  // active nodes with a vector
  double selectivity = 1;    // fraction of nodes the filters accept
  int64_t text_matches = 0;  // documents the text matches
  // Rows the filters reach through an index (type, subtree, edges); equals
  // node_count when only a scan can evaluate them.
  int64_t filter_access_rows = 0;
  // One index covers every filter (a single indexed condition, or created_at
  // ranges): a list of allowed rows for the vector index reads its entries
  // and no table row.
  bool filter_index_covers = false;
  // The hierarchy index tests every filter in memory (subtrees, types): the
  // access rows are the subtree's, and a candidate check costs no SQL.
  bool filter_in_memory = false;
  // The text index ranks the words (Options::text_index): scoring within a
  // set of allowed rows walks the words' postings against a bitmap of them,
  // with no FTS5 probe per row.
  bool text_in_memory = false;
  size_t depth = 10;  // candidates each ranking must produce
  size_t ef = 128;
  size_t exact_max = 10000;  // the vector index scans below this size
};

struct Plan {
  QueryStrategy strategy = QueryStrategy::kHybrid;
  bool forced = false;
  std::map<std::string, double> cost_us;  // by strategy name
};

double EstimateCost(QueryStrategy strategy, const PlanInput& in);
// When a vector_first walk of `k` neighbours kept too few that pass the
// filters (the nearest vectors mostly fail them: a subtree elsewhere in the
// graph, a property the query's meaning rarely carries), the executor either
// walks further or lists the allowed rows and searches within them. These
// price the two: a walk of `k` neighbours with each checked against the
// filters, and a listing of the allowed rows plus a search within them.
double WidenedWalkCost(const PlanInput& in, double k);
double PushDownCost(const PlanInput& in);
// `forced` other than kAuto is obeyed (and its cost still reported).
Plan ChoosePlan(const PlanInput& in, QueryStrategy forced);

}  // namespace nodespace::query
