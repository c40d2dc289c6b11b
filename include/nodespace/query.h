// Queries: one model for every interface (C++ builder, JSON, CLI).
//
// A query combines ranking (full-text BM25, vector or semantic similarity,
// or both fused), filters (a tree of conditions), sort, cursor pagination,
// grouping by root, facets and aggregations:
//
//   auto q = nodespace::QueryBuilder()
//                .Text("login flow")
//                .Where(nodespace::Filter::Eq("type", "task"))
//                .Where(nodespace::Filter::Under(project_id))
//                .Limit(20)
//                .Build();
//   auto result = db->Query(q).value();
//
// The JSON form (docs/API.md, "Query JSON") maps one to one onto `Query`;
// ParseQueryJson and QueryToJson convert between them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "nodespace/node.h"
#include "nodespace/status.h"

namespace nodespace {

// A scalar in a filter: null, boolean, integer, real or text.
using QueryValue = std::variant<std::monostate, bool, int64_t, double, std::string>;

// One node of a filter tree.
//
// Fields a condition may name:
//   id, parent_id, type, lifecycle, title, content,
//   created_at, modified_at          (milliseconds, or "YYYY-MM-DD" / RFC 3339)
//   properties.<path>                (e.g. properties.task.status)
// Operators: = != < <= > >= in exists contains starts_with.
// Structural conditions: under (a node's subtree, optional depth), mentions
// (nodes whose content mentions a node), mentioned_by (nodes a node
// mentions), collection (members of a collection path "a:b:c").
struct Filter {
  enum class Kind : uint8_t {
    kAnd,
    kOr,
    kNot,
    kCompare,      // field op value(s)
    kUnder,        // subtree of `target`, at most `depth` levels below (-1: any)
    kMentions,     // nodes that mention `target`
    kMentionedBy,  // nodes that `target` mentions
    kCollection,   // direct members of the collection at path `target`
  };
  enum class Op : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kExists, kContains, kStartsWith };

  Kind kind = Kind::kAnd;
  std::vector<Filter> children;    // kAnd, kOr (any number), kNot (exactly one)
  std::string field;               // kCompare
  Op op = Op::kEq;                 // kCompare
  std::vector<QueryValue> values;  // kCompare: one value, or the list for kIn; exists: [bool]
  std::string target;              // kUnder, kMentions, kMentionedBy, kCollection
  int depth = -1;                  // kUnder

  static Filter And(std::vector<Filter> children);
  static Filter Or(std::vector<Filter> children);
  static Filter Not(Filter child);
  static Filter Compare(std::string field, Op op, QueryValue value);
  static Filter Eq(std::string field, QueryValue value) {
    return Compare(std::move(field), Op::kEq, std::move(value));
  }
  static Filter In(std::string field, std::vector<QueryValue> values);
  static Filter Exists(std::string field, bool exists = true);
  static Filter Under(std::string id, int depth = -1);
  static Filter Mentions(std::string id);
  static Filter MentionedBy(std::string id);
  static Filter InCollection(std::string path);
};

const char* FilterOpName(Filter::Op op);  // "=", "!=", "<", ..., "starts_with"
std::optional<Filter::Op> ParseFilterOp(const std::string& name);

struct SortKey {
  // "score" (ranked queries), "created_at", "modified_at", "title", "type",
  // "id" or "properties.<path>".
  std::string field = "score";
  bool descending = true;
};

struct FacetRequest {
  std::string field;  // type, lifecycle, parent_id, properties.<path> (arrays count each element)
  size_t size = 10;   // top-N values by count
};

struct AggregationRequest {
  enum class Kind : uint8_t { kCount, kMin, kMax, kAvg, kSum, kDateHistogram };
  std::string name;  // key in the result; defaults to "<op>(<field>)"
  Kind kind = Kind::kCount;
  std::string field;             // not for kCount
  std::string interval = "day";  // kDateHistogram: day, week (ISO, Monday) or month
};

const char* AggregationKindName(AggregationRequest::Kind kind);

// How text and vector rankings combine when a query has both.
struct FusionOptions {
  enum class Method : uint8_t { kRrf, kWeighted };
  Method method = Method::kRrf;
  // Reciprocal rank fusion: score = sum of weight / (rrf_k + rank), rank from 1.
  // 60 is the value from the original RRF study (Cormack et al., 2009).
  double rrf_k = 60;
  // Weighted fusion: each list's scores are scaled to [0, 1] (min-max within
  // the candidate window) and summed with these weights; RRF weighs ranks.
  //
  // The vector list weighs 0.3 by default: on the benchmark data (WordNet
  // relations as relevance, docs/BENCHMARKS.md "Retrieval quality") it is
  // the weight at which hybrid ranks better than text alone and than vectors
  // alone at both 100K and 1M nodes (equal weights lose to text at 100K).
  // With RRF and a window of 100 it makes the vectors re-order the words'
  // matches and fill the page when the words match few nodes: a node only
  // the vector list holds ranks below every text match. Give the vectors
  // more weight when the embedder is stronger than the words.
  double text_weight = 1.0;
  double vector_weight = 0.3;
};

// How the planner may run a query with a ranking component.
enum class QueryStrategy : uint8_t {
  kAuto,         // chosen by estimated cost
  kFilterFirst,  // evaluate the filters, then score only the nodes they allow
  kVectorFirst,  // rank with the indexes unfiltered, then filter the candidates
  kHybrid,       // push the filters into the index scans (filtered graph walk, FTS join)
};
const char* QueryStrategyName(QueryStrategy strategy);  // "auto", "filter_first", ...
std::optional<QueryStrategy> ParseQueryStrategy(const std::string& name);

struct Query {
  std::string text;  // full-text query (search.h syntax)
  // A plain word list matches nodes with all of its words; with text_any,
  // nodes with any of them, ranked by BM25 (for natural-language queries).
  bool text_any = false;
  std::vector<float> vector;  // a query vector of the database's dimension
  std::string semantic;       // text embedded with the database's embedder
  Filter filter;              // an empty kAnd matches everything
  // Archived and trashed nodes are left out unless asked for, or unless the
  // filter names `lifecycle` itself.
  bool include_archived = false;
  std::vector<SortKey> sort;  // empty: score for ranked queries, else modified_at desc
  size_t limit = 20;
  std::string cursor;  // from the previous page's QueryResult::next_cursor
  bool group_by_root = false;
  // Text queries: give each hit a passage of its best matching column with
  // the matched terms between these markers (QueryHit::snippet). Empty
  // markers: no snippets.
  std::string highlight_open;
  std::string highlight_close;
  std::vector<FacetRequest> facets;
  std::vector<AggregationRequest> aggregations;
  FusionOptions fusion;
  // Candidates each ranking contributes before fusion and filtering.
  size_t window = 100;
  size_t ef = 0;  // vector graph search effort; 0: the index default
  QueryStrategy strategy = QueryStrategy::kAuto;
  bool explain = false;
  bool use_cache = true;

  bool ranked() const { return !text.empty() || !vector.empty() || !semantic.empty(); }
};

// Limits every query is checked against (Options::query_limits).
struct QueryLimits {
  size_t max_limit = 1000;
  size_t max_window = 10000;
  size_t max_filter_depth = 32;
  size_t max_filter_conditions = 256;
  size_t max_in_values = 1000;
  size_t max_facets = 16;
  size_t max_facet_size = 1000;
  size_t max_aggregations = 16;
  size_t max_json_bytes = 1 << 20;
  // A query still running after this long is stopped and refused
  // (InvalidArgument "query timed out ..."); 0: no limit. The SQL part is
  // interrupted where it stands; a vector graph walk finishes its step.
  int64_t max_query_ms = 0;
};

// Fluent construction of a Query.
class QueryBuilder {
 public:
  QueryBuilder& Text(std::string text);
  QueryBuilder& Vector(std::vector<float> vector);
  QueryBuilder& Semantic(std::string text);
  QueryBuilder& Where(Filter condition);  // ANDed with earlier conditions
  QueryBuilder& IncludeArchived(bool yes = true);
  QueryBuilder& SortBy(std::string field, bool descending = true);
  QueryBuilder& Limit(size_t limit);
  QueryBuilder& After(std::string cursor);
  QueryBuilder& GroupByRoot(bool yes = true);
  QueryBuilder& Facet(std::string field, size_t size = 10);
  QueryBuilder& Aggregate(AggregationRequest aggregation);
  QueryBuilder& Fusion(FusionOptions fusion);
  QueryBuilder& Window(size_t window);
  QueryBuilder& Strategy(QueryStrategy strategy);
  QueryBuilder& Explain(bool yes = true);
  Query Build() const { return query_; }

 private:
  Query query_;
};

struct QueryHit {
  Node node;         // without its embedding (Database::Get returns it)
  double score = 0;  // what the hits are ordered by when sorting by score
  // Components (absent when the query has no such ranking or the node was
  // not among that ranking's candidates).
  std::optional<double> text_score;       // BM25, higher is better
  std::optional<size_t> text_rank;        // 1-based
  std::optional<double> vector_distance;  // smaller is closer
  std::optional<size_t> vector_rank;      // 1-based
  std::vector<std::string> matched_ids;   // group_by_root: the member hits, best first
  std::string snippet;  // Query::highlight_open/close: the matching passage, marked
};

struct FacetCount {
  std::string value;  // values as text; JSON null counts as "null"
  int64_t count = 0;
};
struct FacetResult {
  std::string field;
  std::vector<FacetCount> values;  // by count descending, then value
  int64_t other_count = 0;         // matches with other values beyond the top N
};

struct HistogramBucket {
  std::string key;  // "2024-03-01" (day / week start) or "2024-03" (month)
  int64_t count = 0;
};
struct AggregationResult {
  std::string name;
  std::optional<double> value;           // count, min, max, avg, sum (absent: no values)
  std::vector<HistogramBucket> buckets;  // date histogram
};

// What the planner saw, chose and (after execution) measured.
struct QueryExplain {
  // analyzeQueryPattern
  bool has_vector = false;
  bool has_text = false;
  bool has_filters = false;
  int64_t expected_result_size = 0;  // estimated filter matches
  double filter_selectivity = 1;
  int64_t text_match_estimate = -1;  // -1: no text
  int64_t query_frequency = 0;       // times this query was seen before
  int64_t node_count = 0;
  int64_t vector_count = 0;

  // Chosen: filter_first, vector_first, hybrid; filter_only for unranked
  // queries and filter_only_text_match for text sorted by a field (one SQL
  // statement each).
  std::string strategy;
  bool forced = false;
  std::map<std::string, double> estimated_cost_us;  // per strategy
  struct Stage {
    std::string name;
    int64_t rows = 0;
    double ms = 0;
    std::string detail;
  };
  std::vector<Stage> stages;
  bool cache_hit = false;
  double total_ms = 0;

  std::string ToString() const;  // multi-line, for the CLI
};

struct QueryResult {
  std::vector<QueryHit> hits;
  std::string next_cursor;  // empty: no more pages
  // Nodes matching the filters (and the text, when there is one): over the
  // whole match set, not just this page. Counted when the query asks for
  // facets or aggregations (they scan the match set anyway); -1 otherwise.
  int64_t total_matches = -1;
  std::vector<FacetResult> facets;
  std::vector<AggregationResult> aggregations;
  QueryExplain explain;  // filled when Query::explain
};

// JSON <-> Query. Errors name the offending path:
//   "filters[2].op: unknown operator 'lt='".
Result<Query> ParseQueryJson(const std::string& json, const QueryLimits& limits = {});
// Canonical JSON (fixed key order, defaults omitted): equal queries give
// equal strings, which is what the query cache keys on.
std::string QueryToJson(const Query& query);
// Checks a Query built in C++ the same way ParseQueryJson checks JSON.
Status ValidateQuery(const Query& query, const QueryLimits& limits = {});

// Query cache and usage counters, for the scaling manager and /metrics.
struct QueryCacheStats {
  bool enabled = true;
  size_t capacity_bytes = 0;
  size_t bytes = 0;
  size_t entries = 0;
  size_t max_entries = 0;  // 0: bounded by bytes only
  int64_t ttl_ms = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
  uint64_t invalidations = 0;  // entries dropped because the database changed
  double hit_rate() const {
    return hits + misses == 0 ? 0 : static_cast<double>(hits) / static_cast<double>(hits + misses);
  }
};

// How often queries filtered or sorted on a field (the scaling manager builds
// indexes for the hot ones).
struct FieldUsage {
  std::string field;
  uint64_t filter_count = 0;
  uint64_t sort_count = 0;
  int64_t last_used_ms = 0;  // Unix ms of the most recent query that used the field
};

}  // namespace nodespace
