#include "query/planner.h"

#include <algorithm>
#include <cmath>

namespace nodespace::query {
namespace {

// Per-operation costs in microseconds (2-core x86-64, 384-d vectors).
constexpr double kRowFetchUs = 1.0;  // one row reached through an index, filter evaluated
// One row of a full scan evaluating a property: rows carry their vectors
// inline (about 2 KB each with 384 dims), and the JSON is parsed per row. At
// 100K nodes a lexname IN list took 300 ms this way (count(*) with a column
// test alone 97 ms).
constexpr double kRowScanUs = 3.0;
constexpr double kDistanceUs = 0.08;   // one float vector distance
constexpr double kFtsDocUs = 0.8;      // one matching document scored by FTS5
constexpr double kFtsProbeUs = 15;     // MATCH restricted to a single rowid
constexpr double kFtsMatchUs = 0.25;   // one match walked without scoring it
constexpr double kTreeRowUs = 0.01;    // one row tested in the hierarchy index
constexpr double kBitsetRowUs = 0.05;  // one allowed row set in a graph walk's filter
// One allowed row listed from an index that covers the filters: its entries
// alone, no table row (at 1M, 10,000 rows of a created_at range in 4.0-4.3 ms
// and 54,836 of a lexname IN list from its hot index in 45-60 ms, both read
// through Python's sqlite3 module; the lifecycle and the vector are tested in
// the hierarchy index or left to the vector index).
constexpr double kIndexListRowUs = 0.6;
// One ranked candidate checked against filters SQL must test: a rowid probe
// and, for properties, the row's JSON parsed (8,896 graph candidates checked
// against a lexname IN list in 53-61 ms at 1M).
constexpr double kCandidateCheckUs = 5.0;
// The text index ranking within allowed rows: each allowed row set in a
// bitmap, each match of the words tested against it and scored (at 1M, 45,348
// allowed rows and 1,000-2,700 matches took 0.4-1.4 ms).
constexpr double kTextAllowedRowUs = 0.01;
constexpr double kTextMatchUs = 0.3;
// Distances per unit of ef in a graph walk (up to 2M = 32 neighbours per
// expanded node, about 1.5 expansions per unit of ef).
constexpr double kGraphHopDistances = 50;

double FilterCost(const PlanInput& in) {
  if (!in.has_filters) return 0;
  if (in.filter_in_memory) return static_cast<double>(in.filter_access_rows) * kTreeRowUs;
  const bool scanned = in.filter_access_rows >= in.node_count;
  const double per_row = scanned                  ? kRowScanUs
                         : in.filter_index_covers ? kIndexListRowUs
                                                  : kRowFetchUs;
  return static_cast<double>(in.filter_access_rows) * per_row;
}

double CandidateCheck(const PlanInput& in) {
  return in.filter_in_memory ? kTreeRowUs : kCandidateCheckUs;
}

double Allowed(const PlanInput& in, int64_t population) {
  return std::max(1.0, in.selectivity * static_cast<double>(population));
}

// The text index ranking the words within the allowed rows.
double TextIndexWithinAllowed(const PlanInput& in) {
  return Allowed(in, in.node_count) * kTextAllowedRowUs +
         static_cast<double>(in.text_matches) * kTextMatchUs;
}

double GraphWalk(const PlanInput& in, double ef) {
  if (in.vector_count <= static_cast<int64_t>(in.exact_max)) {
    return static_cast<double>(in.vector_count) * kDistanceUs;
  }
  return ef * kGraphHopDistances * kDistanceUs;
}

// The vector index searching within listed allowed rows: it either scans
// them or walks the graph skipping what a bitset of them rejects (a sparse
// set makes the walk longer), whichever is cheaper
// (vector::RecommendSearchPlan); only the walk needs the bitset.
double SearchWithinAllowed(const PlanInput& in, double ef) {
  const double sel = std::clamp(in.selectivity, 1e-6, 1.0);
  const double allowed = Allowed(in, in.vector_count);
  const double walk = GraphWalk(in, ef) / std::max(sel, 0.02) + allowed * kBitsetRowUs;
  return std::min(walk, allowed * kDistanceUs);
}

}  // namespace

double EstimateCost(QueryStrategy strategy, const PlanInput& in) {
  const double sel = std::clamp(in.selectivity, 1e-6, 1.0);
  const double depth = static_cast<double>(in.depth);
  const double ef = static_cast<double>(std::max(in.ef, in.depth));
  const double text_docs = static_cast<double>(in.text_matches);
  const double check_us = CandidateCheck(in);
  double cost = 0;
  switch (strategy) {
    case QueryStrategy::kFilterFirst: {
      cost += FilterCost(in);
      if (!in.has_filters) cost += static_cast<double>(in.node_count) * kRowScanUs;
      if (in.has_vector) cost += Allowed(in, in.vector_count) * kDistanceUs;
      if (in.has_text && in.text_in_memory) {
        cost += TextIndexWithinAllowed(in);
      } else if (in.has_text) {
        cost += Allowed(in, in.node_count) * kFtsProbeUs;
      }
      break;
    }
    case QueryStrategy::kVectorFirst: {
      // Enough unfiltered candidates that `depth` of them pass the filters.
      const double wanted = depth / sel;
      if (in.has_vector) {
        const double k = std::min(wanted, static_cast<double>(in.vector_count));
        cost += GraphWalk(in, std::max(ef, k)) + k * check_us;
      }
      if (in.has_text) cost += text_docs * kFtsDocUs + std::min(text_docs, wanted) * check_us;
      break;
    }
    case QueryStrategy::kHybrid: {
      if (in.has_vector) cost += FilterCost(in) + SearchWithinAllowed(in, ef);
      if (in.has_text && in.filter_in_memory && in.text_in_memory) {
        // The text index scores the allowed rows, as in filter_first.
        if (!in.has_vector) cost += FilterCost(in);
        cost += TextIndexWithinAllowed(in);
      } else if (in.has_text && in.filter_in_memory) {
        // FTS5 walks every match and scores the allowed ones. The allowed
        // rows are listed once per query: the vector stage keeps those of
        // them with a vector (the listing of a 389K-node subtree, about 3 ms
        // at 1M, was counted twice and priced this plan out).
        if (!in.has_vector) cost += FilterCost(in);
        cost += text_docs * kFtsMatchUs + sel * text_docs * kFtsDocUs;
      } else if (in.has_text) {
        cost += text_docs * (kFtsDocUs + kRowFetchUs);
      }
      break;
    }
    case QueryStrategy::kAuto:
      break;
  }
  return cost;
}

double WidenedWalkCost(const PlanInput& in, double k) {
  const double ef = static_cast<double>(std::max(in.ef, in.depth));
  k = std::min(k, static_cast<double>(in.vector_count));
  return GraphWalk(in, std::max(ef, k)) + k * CandidateCheck(in);
}

double PushDownCost(const PlanInput& in) {
  const double ef = static_cast<double>(std::max(in.ef, in.depth));
  return FilterCost(in) + SearchWithinAllowed(in, ef);
}

Plan ChoosePlan(const PlanInput& in, QueryStrategy forced) {
  Plan plan;
  const QueryStrategy all[] = {QueryStrategy::kFilterFirst, QueryStrategy::kVectorFirst,
                               QueryStrategy::kHybrid};
  double best = INFINITY;
  for (QueryStrategy s : all) {
    const double cost = EstimateCost(s, in);
    plan.cost_us[QueryStrategyName(s)] = cost;
    if (cost < best) {
      best = cost;
      plan.strategy = s;
    }
  }
  if (!in.has_filters) plan.strategy = QueryStrategy::kVectorFirst;  // nothing to push down
  if (forced != QueryStrategy::kAuto) {
    plan.strategy = forced;
    plan.forced = true;
  }
  return plan;
}

}  // namespace nodespace::query
