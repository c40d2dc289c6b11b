// The plain model parts of nodespace/query.h: filter constructors, names of
// enums, the builder and the EXPLAIN text. JSON lives in query_json.cc.

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "nodespace/query.h"

namespace nodespace {

// ---- Filter ------------------------------------------------------------------

Filter Filter::And(std::vector<Filter> children) {
  Filter f;
  f.kind = Kind::kAnd;
  f.children = std::move(children);
  return f;
}

Filter Filter::Or(std::vector<Filter> children) {
  Filter f;
  f.kind = Kind::kOr;
  f.children = std::move(children);
  return f;
}

Filter Filter::Not(Filter child) {
  Filter f;
  f.kind = Kind::kNot;
  f.children.push_back(std::move(child));
  return f;
}

Filter Filter::Compare(std::string field, Op op, QueryValue value) {
  Filter f;
  f.kind = Kind::kCompare;
  f.field = std::move(field);
  f.op = op;
  f.values.push_back(std::move(value));
  return f;
}

Filter Filter::In(std::string field, std::vector<QueryValue> values) {
  Filter f;
  f.kind = Kind::kCompare;
  f.field = std::move(field);
  f.op = Op::kIn;
  f.values = std::move(values);
  return f;
}

Filter Filter::Exists(std::string field, bool exists) {
  return Compare(std::move(field), Op::kExists, exists);
}

Filter Filter::Under(std::string id, int depth) {
  Filter f;
  f.kind = Kind::kUnder;
  f.target = std::move(id);
  f.depth = depth;
  return f;
}

Filter Filter::Mentions(std::string id) {
  Filter f;
  f.kind = Kind::kMentions;
  f.target = std::move(id);
  return f;
}

Filter Filter::MentionedBy(std::string id) {
  Filter f;
  f.kind = Kind::kMentionedBy;
  f.target = std::move(id);
  return f;
}

Filter Filter::InCollection(std::string path) {
  Filter f;
  f.kind = Kind::kCollection;
  f.target = std::move(path);
  return f;
}

// ---- names -------------------------------------------------------------------

const char* FilterOpName(Filter::Op op) {
  switch (op) {
    case Filter::Op::kEq:
      return "=";
    case Filter::Op::kNe:
      return "!=";
    case Filter::Op::kLt:
      return "<";
    case Filter::Op::kLe:
      return "<=";
    case Filter::Op::kGt:
      return ">";
    case Filter::Op::kGe:
      return ">=";
    case Filter::Op::kIn:
      return "in";
    case Filter::Op::kExists:
      return "exists";
    case Filter::Op::kContains:
      return "contains";
    case Filter::Op::kStartsWith:
      return "starts_with";
  }
  return "?";
}

std::optional<Filter::Op> ParseFilterOp(const std::string& name) {
  static constexpr Filter::Op kOps[] = {
      Filter::Op::kEq,       Filter::Op::kNe,         Filter::Op::kLt, Filter::Op::kLe,
      Filter::Op::kGt,       Filter::Op::kGe,         Filter::Op::kIn, Filter::Op::kExists,
      Filter::Op::kContains, Filter::Op::kStartsWith,
  };
  for (Filter::Op op : kOps) {
    if (name == FilterOpName(op)) return op;
  }
  return std::nullopt;
}

const char* AggregationKindName(AggregationRequest::Kind kind) {
  switch (kind) {
    case AggregationRequest::Kind::kCount:
      return "count";
    case AggregationRequest::Kind::kMin:
      return "min";
    case AggregationRequest::Kind::kMax:
      return "max";
    case AggregationRequest::Kind::kAvg:
      return "avg";
    case AggregationRequest::Kind::kSum:
      return "sum";
    case AggregationRequest::Kind::kDateHistogram:
      return "date_histogram";
  }
  return "?";
}

const char* QueryStrategyName(QueryStrategy strategy) {
  switch (strategy) {
    case QueryStrategy::kAuto:
      return "auto";
    case QueryStrategy::kFilterFirst:
      return "filter_first";
    case QueryStrategy::kVectorFirst:
      return "vector_first";
    case QueryStrategy::kHybrid:
      return "hybrid";
  }
  return "?";
}

std::optional<QueryStrategy> ParseQueryStrategy(const std::string& name) {
  static constexpr QueryStrategy kStrategies[] = {QueryStrategy::kAuto, QueryStrategy::kFilterFirst,
                                                  QueryStrategy::kVectorFirst,
                                                  QueryStrategy::kHybrid};
  for (QueryStrategy s : kStrategies) {
    if (name == QueryStrategyName(s)) return s;
  }
  return std::nullopt;
}

// ---- QueryBuilder ------------------------------------------------------------

QueryBuilder& QueryBuilder::Text(std::string text) {
  query_.text = std::move(text);
  return *this;
}

QueryBuilder& QueryBuilder::Vector(std::vector<float> vector) {
  query_.vector = std::move(vector);
  return *this;
}

QueryBuilder& QueryBuilder::Semantic(std::string text) {
  query_.semantic = std::move(text);
  return *this;
}

// Conditions are appended to the root AND without flattening, so
// Where(And({a, b})) keeps its own node and matches the JSON
// {"filters": [{"and": [a, b]}]} exactly.
QueryBuilder& QueryBuilder::Where(Filter condition) {
  if (query_.filter.kind != Filter::Kind::kAnd) {
    std::vector<Filter> both;
    both.push_back(std::move(query_.filter));
    query_.filter = Filter::And(std::move(both));
  }
  query_.filter.children.push_back(std::move(condition));
  return *this;
}

QueryBuilder& QueryBuilder::IncludeArchived(bool yes) {
  query_.include_archived = yes;
  return *this;
}

QueryBuilder& QueryBuilder::SortBy(std::string field, bool descending) {
  query_.sort.push_back(SortKey{std::move(field), descending});
  return *this;
}

QueryBuilder& QueryBuilder::Limit(size_t limit) {
  query_.limit = limit;
  return *this;
}

QueryBuilder& QueryBuilder::After(std::string cursor) {
  query_.cursor = std::move(cursor);
  return *this;
}

QueryBuilder& QueryBuilder::GroupByRoot(bool yes) {
  query_.group_by_root = yes;
  return *this;
}

QueryBuilder& QueryBuilder::Facet(std::string field, size_t size) {
  query_.facets.push_back(FacetRequest{std::move(field), size});
  return *this;
}

QueryBuilder& QueryBuilder::Aggregate(AggregationRequest aggregation) {
  query_.aggregations.push_back(std::move(aggregation));
  return *this;
}

QueryBuilder& QueryBuilder::Fusion(FusionOptions fusion) {
  query_.fusion = fusion;
  return *this;
}

QueryBuilder& QueryBuilder::Window(size_t window) {
  query_.window = window;
  return *this;
}

QueryBuilder& QueryBuilder::Strategy(QueryStrategy strategy) {
  query_.strategy = strategy;
  return *this;
}

QueryBuilder& QueryBuilder::Explain(bool yes) {
  query_.explain = yes;
  return *this;
}

// ---- QueryExplain ------------------------------------------------------------

namespace {

std::string Format(const char* fmt, double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, value);
  return buf;
}

const char* YesNo(bool b) {
  return b ? "yes" : "no";
}

}  // namespace

// Example:
//   pattern: vector=yes text=no filters=yes expected_results=1200 selectivity=0.012 ...
//   strategy: hybrid (chosen by cost)
//   estimated cost (us):
//       filter_first     830.5
//     * hybrid           412
//       vector_first    2900
//   stages:
//     filter          rows=1200     0.412 ms  type index
//   cache: miss
//   total: 1.234 ms
std::string QueryExplain::ToString() const {
  std::string out = "pattern:";
  out += std::string(" vector=") + YesNo(has_vector);
  out += std::string(" text=") + YesNo(has_text);
  out += std::string(" filters=") + YesNo(has_filters);
  out += " expected_results=" + std::to_string(expected_result_size);
  out += " selectivity=" + Format("%.4g", filter_selectivity);
  if (text_match_estimate >= 0) out += " text_matches=" + std::to_string(text_match_estimate);
  out += " frequency=" + std::to_string(query_frequency);
  out += " nodes=" + std::to_string(node_count);
  out += " vectors=" + std::to_string(vector_count);
  out += "\n";

  out += "strategy: " + (strategy.empty() ? std::string("(none)") : strategy);
  out += forced ? " (forced)\n" : " (chosen by cost)\n";

  if (!estimated_cost_us.empty()) {
    out += "estimated cost (us):\n";
    for (const auto& [name, cost] : estimated_cost_us) {
      out += name == strategy ? "  * " : "    ";
      char line[128];
      std::snprintf(line, sizeof(line), "%-14s %12.1f\n", name.c_str(), cost);
      out += line;
    }
  }

  if (!stages.empty()) {
    out += "stages:\n";
    for (const Stage& s : stages) {
      char line[160];
      std::snprintf(line, sizeof(line), "  %-16s rows=%-10lld %9.3f ms", s.name.c_str(),
                    static_cast<long long>(s.rows), s.ms);
      out += line;
      if (!s.detail.empty()) out += "  " + s.detail;
      out += "\n";
    }
  }

  out += std::string("cache: ") + (cache_hit ? "hit" : "miss") + "\n";
  out += "total: " + Format("%.3f", total_ms) + " ms\n";
  return out;
}

}  // namespace nodespace
