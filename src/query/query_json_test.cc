#include "query/query_json.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "nodespace/query.h"
#include "test_util.h"

namespace nodespace {
namespace {

// ---- helpers -----------------------------------------------------------------

// Field by field, everything QueryToJson carries (explain and use_cache are
// left out of it on purpose).
void ExpectSameFilter(const Filter& a, const Filter& b, const std::string& where) {
  SCOPED_TRACE(where);
  ASSERT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.field, b.field);
  EXPECT_EQ(a.op, b.op);
  ASSERT_EQ(a.values.size(), b.values.size());
  for (size_t i = 0; i < a.values.size(); ++i) {
    ASSERT_EQ(a.values[i].index(), b.values[i].index()) << "value " << i;
    if (const auto* d = std::get_if<double>(&a.values[i])) {
      EXPECT_EQ(std::bit_cast<uint64_t>(*d), std::bit_cast<uint64_t>(std::get<double>(b.values[i])))
          << "value " << i;
    } else {
      EXPECT_EQ(a.values[i], b.values[i]) << "value " << i;
    }
  }
  EXPECT_EQ(a.target, b.target);
  EXPECT_EQ(a.depth, b.depth);
  ASSERT_EQ(a.children.size(), b.children.size());
  for (size_t i = 0; i < a.children.size(); ++i) {
    ExpectSameFilter(a.children[i], b.children[i], where + "/" + std::to_string(i));
  }
}

void ExpectSameQuery(const Query& a, const Query& b) {
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.text_any, b.text_any);
  ASSERT_EQ(a.vector.size(), b.vector.size());
  for (size_t i = 0; i < a.vector.size(); ++i) {
    EXPECT_EQ(std::bit_cast<uint32_t>(a.vector[i]), std::bit_cast<uint32_t>(b.vector[i]))
        << "vector[" << i << "] " << a.vector[i] << " vs " << b.vector[i];
  }
  EXPECT_EQ(a.semantic, b.semantic);
  ExpectSameFilter(a.filter, b.filter, "filter");
  EXPECT_EQ(a.include_archived, b.include_archived);
  ASSERT_EQ(a.sort.size(), b.sort.size());
  for (size_t i = 0; i < a.sort.size(); ++i) {
    EXPECT_EQ(a.sort[i].field, b.sort[i].field);
    EXPECT_EQ(a.sort[i].descending, b.sort[i].descending);
  }
  EXPECT_EQ(a.limit, b.limit);
  EXPECT_EQ(a.cursor, b.cursor);
  EXPECT_EQ(a.group_by_root, b.group_by_root);
  EXPECT_EQ(a.highlight_open, b.highlight_open);
  EXPECT_EQ(a.highlight_close, b.highlight_close);
  ASSERT_EQ(a.facets.size(), b.facets.size());
  for (size_t i = 0; i < a.facets.size(); ++i) {
    EXPECT_EQ(a.facets[i].field, b.facets[i].field);
    EXPECT_EQ(a.facets[i].size, b.facets[i].size);
  }
  ASSERT_EQ(a.aggregations.size(), b.aggregations.size());
  for (size_t i = 0; i < a.aggregations.size(); ++i) {
    EXPECT_EQ(a.aggregations[i].name, b.aggregations[i].name);
    EXPECT_EQ(a.aggregations[i].kind, b.aggregations[i].kind);
    EXPECT_EQ(a.aggregations[i].field, b.aggregations[i].field);
    EXPECT_EQ(a.aggregations[i].interval, b.aggregations[i].interval);
  }
  EXPECT_EQ(a.fusion.method, b.fusion.method);
  EXPECT_EQ(a.fusion.rrf_k, b.fusion.rrf_k);
  EXPECT_EQ(a.fusion.text_weight, b.fusion.text_weight);
  EXPECT_EQ(a.fusion.vector_weight, b.fusion.vector_weight);
  EXPECT_EQ(a.window, b.window);
  EXPECT_EQ(a.ef, b.ef);
  EXPECT_EQ(a.strategy, b.strategy);
}

// QueryToJson -> ParseQueryJson gives the query back, and printing it again
// gives the same text.
void ExpectRoundTrip(const Query& q) {
  const std::string json = QueryToJson(q);
  SCOPED_TRACE(json);
  ASSERT_OK(ValidateQuery(q));
  ASSERT_OK_AND_ASSIGN(Query back, ParseQueryJson(json));
  ExpectSameQuery(back, q);
  EXPECT_EQ(QueryToJson(back), json);
}

std::string Canonical(const std::string& json) {
  Result<Query> q = ParseQueryJson(json);
  EXPECT_TRUE(q.ok()) << json << ": " << q.status().ToString();
  return q.ok() ? QueryToJson(*q) : "<error>";
}

// The error message, or "OK".
std::string ParseError(const std::string& json, const QueryLimits& limits = {}) {
  Result<Query> q = ParseQueryJson(json, limits);
  if (q.ok()) return "OK";
  EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument) << json;
  return q.status().message();
}

std::string ValidateError(const Query& q, const QueryLimits& limits = {}) {
  Status st = ValidateQuery(q, limits);
  return st.ok() ? "OK" : st.message();
}

std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

constexpr const char* kLeaf = R"({"field":"type","op":"=","value":"task"})";

// ---- model --------------------------------------------------------------------

TEST(QueryJsonModel, OperatorAndStrategyNamesRoundTrip) {
  for (const char* name :
       {"=", "!=", "<", "<=", ">", ">=", "in", "exists", "contains", "starts_with"}) {
    std::optional<Filter::Op> op = ParseFilterOp(name);
    ASSERT_TRUE(op.has_value()) << name;
    EXPECT_STREQ(FilterOpName(*op), name);
  }
  EXPECT_FALSE(ParseFilterOp("lt=").has_value());
  EXPECT_FALSE(ParseFilterOp("").has_value());
  for (const char* name : {"auto", "filter_first", "vector_first", "hybrid"}) {
    std::optional<QueryStrategy> s = ParseQueryStrategy(name);
    ASSERT_TRUE(s.has_value()) << name;
    EXPECT_STREQ(QueryStrategyName(*s), name);
  }
  EXPECT_FALSE(ParseQueryStrategy("filter_only").has_value());
  EXPECT_STREQ(AggregationKindName(AggregationRequest::Kind::kDateHistogram), "date_histogram");
  EXPECT_STREQ(AggregationKindName(AggregationRequest::Kind::kAvg), "avg");
}

TEST(QueryJsonModel, FilterFactoriesFillTheirFields) {
  Filter in = Filter::In("type", {std::string("a"), std::string("b")});
  EXPECT_EQ(in.kind, Filter::Kind::kCompare);
  EXPECT_EQ(in.op, Filter::Op::kIn);
  EXPECT_EQ(in.values.size(), 2u);
  Filter ex = Filter::Exists("properties.x", false);
  EXPECT_EQ(ex.op, Filter::Op::kExists);
  ASSERT_EQ(ex.values.size(), 1u);
  EXPECT_EQ(ex.values[0], QueryValue(false));
  Filter under = Filter::Under("p", 3);
  EXPECT_EQ(under.kind, Filter::Kind::kUnder);
  EXPECT_EQ(under.target, "p");
  EXPECT_EQ(under.depth, 3);
  Filter no = Filter::Not(Filter::Mentions("m"));
  EXPECT_EQ(no.kind, Filter::Kind::kNot);
  ASSERT_EQ(no.children.size(), 1u);
  EXPECT_EQ(no.children[0].kind, Filter::Kind::kMentions);
  EXPECT_EQ(Filter::MentionedBy("x").kind, Filter::Kind::kMentionedBy);
  EXPECT_EQ(Filter::InCollection("a:b").target, "a:b");
}

TEST(QueryJsonModel, WhereAndsConditionsWithoutFlattening) {
  Query q = QueryBuilder()
                .Where(Filter::Eq("type", "task"))
                .Where(Filter::Or({Filter::Under("p"), Filter::Mentions("m")}))
                .Build();
  ASSERT_EQ(q.filter.kind, Filter::Kind::kAnd);
  ASSERT_EQ(q.filter.children.size(), 2u);
  EXPECT_EQ(q.filter.children[1].kind, Filter::Kind::kOr);

  // The same query through JSON.
  ASSERT_OK_AND_ASSIGN(Query j, ParseQueryJson(R"({"filters":[)" + std::string(kLeaf) +
                                               R"(,{"or":[{"under":"p"},{"mentions":"m"}]}]})"));
  ExpectSameQuery(j, q);
}

TEST(QueryJsonModel, ExplainToStringShowsPlanAndStages) {
  QueryExplain e;
  e.has_vector = true;
  e.has_filters = true;
  e.expected_result_size = 1200;
  e.filter_selectivity = 0.012;
  e.node_count = 100000;
  e.strategy = "hybrid";
  e.estimated_cost_us = {{"filter_first", 830.5}, {"hybrid", 412}, {"vector_first", 2900}};
  e.stages = {{"filter", 1200, 0.412, "type index"}, {"vector", 20, 0.9, ""}};
  e.cache_hit = false;
  e.total_ms = 1.5;
  const std::string text = e.ToString();
  EXPECT_NE(text.find("pattern: vector=yes text=no filters=yes expected_results=1200"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("strategy: hybrid (chosen by cost)"), std::string::npos) << text;
  EXPECT_NE(text.find("  * hybrid"), std::string::npos) << text;
  EXPECT_NE(text.find("    filter_first"), std::string::npos) << text;
  EXPECT_NE(text.find("rows=1200"), std::string::npos) << text;
  EXPECT_NE(text.find("type index"), std::string::npos) << text;
  EXPECT_NE(text.find("cache: miss"), std::string::npos) << text;
  EXPECT_NE(text.find("total: 1.500 ms"), std::string::npos) << text;
  EXPECT_EQ(text.find("text_matches"), std::string::npos) << text;  // -1: no text
}

// ---- round trips and canonical form ---------------------------------------------

TEST(QueryJson, DefaultQueryIsTheEmptyObject) {
  EXPECT_EQ(QueryToJson(Query()), "{}");
  ExpectRoundTrip(Query());
  // explain and cache change how a query runs, not its result.
  EXPECT_EQ(Canonical(R"({"explain": true, "cache": false})"), "{}");
  ASSERT_OK_AND_ASSIGN(Query q, ParseQueryJson(R"({"explain": true, "cache": false})"));
  EXPECT_TRUE(q.explain);
  EXPECT_FALSE(q.use_cache);
}

TEST(QueryJson, CanonicalTextOfATypicalQuery) {
  Query q = QueryBuilder()
                .Text("login flow")
                .Where(Filter::Eq("type", "task"))
                .Where(Filter::Under("p1", 2))
                .SortBy("created_at", false)
                .Limit(5)
                .Build();
  EXPECT_EQ(QueryToJson(q),
            R"({"text":"login flow","filters":[{"field":"type","op":"=","value":"task"},)"
            R"({"under":"p1","depth":2}],"sort":[{"field":"created_at","order":"asc"}],)"
            R"("limit":5})");
  ExpectRoundTrip(q);
}

TEST(QueryJson, EveryFieldRoundTrips) {
  AggregationRequest hist;
  hist.kind = AggregationRequest::Kind::kDateHistogram;
  hist.field = "created_at";
  hist.interval = "week";
  AggregationRequest avg;
  avg.name = "mean estimate";
  avg.kind = AggregationRequest::Kind::kAvg;
  avg.field = "properties.task.estimate";
  FusionOptions fusion;
  fusion.method = FusionOptions::Method::kWeighted;
  fusion.rrf_k = 10.5;
  fusion.text_weight = 0.25;
  fusion.vector_weight = 2;
  Query q = QueryBuilder()
                .Text("quoted \"words\" \\ and \n control \x01 and caf\xC3\xA9")
                .Vector({0.1f, -2.5f, 1e-30f, 3.4e38f, 0.0f, -0.0f, 1.0f / 3})
                .Where(Filter::Eq("type", "task"))
                .Where(Filter::Compare("properties.task.priority", Filter::Op::kGe, int64_t{2}))
                .Where(Filter::Compare("properties.score", Filter::Op::kLt, 0.5))
                .Where(Filter::Eq("properties.n", 3.0))
                .Where(Filter::Eq("properties.gone", std::monostate{}))
                .Where(Filter::Compare("properties.flag", Filter::Op::kNe, true))
                .Where(Filter::In("lifecycle", {std::string("active"), std::string("archived")}))
                .Where(Filter::Exists("properties.due"))
                .Where(Filter::Exists("properties.done", false))
                .Where(Filter::Compare("title", Filter::Op::kStartsWith, std::string("Log")))
                .Where(Filter::Compare("content", Filter::Op::kContains, std::string("x")))
                .Where(Filter::Compare("created_at", Filter::Op::kLt, int64_t{1709251200000}))
                .Where(Filter::Not(
                    Filter::Or({Filter::Under("root"), Filter::Mentions("m1"),
                                Filter::MentionedBy("m2"), Filter::InCollection("a:b:c")})))
                .Where(Filter::And({}))
                .IncludeArchived()
                .SortBy("properties.task.priority")
                .SortBy("title", false)
                .Limit(50)
                .After("cursor-token")
                .GroupByRoot()
                .Facet("type")
                .Facet("properties.task.status", 25)
                .Aggregate(AggregationRequest{})
                .Aggregate(hist)
                .Aggregate(avg)
                .Fusion(fusion)
                .Window(300)
                .Strategy(QueryStrategy::kHybrid)
                .Build();
  q.ef = 64;
  ExpectRoundTrip(q);
}

TEST(QueryJson, SemanticQueryRoundTrips) {
  ExpectRoundTrip(QueryBuilder().Semantic("how do I log in").Limit(3).Build());
}

TEST(QueryJson, EquivalentTextsPrintIdentically) {
  const std::vector<std::vector<std::string>> groups = {
      // key order and white space
      {R"({"text":"a","limit":5,"filters":[{"field":"type","op":"=","value":"task"}]})",
       R"( { "filters" : [ { "value" : "task" , "op" : "=" , "field" : "type" } ] ,
             "limit" : 5 , "text" : "a" } )"},
      // one condition object is a list of one
      {R"({"filters":{"under":"p","depth":1}})", R"({"filters":[{"depth":1,"under":"p"}]})"},
      // dates: YYYY-MM-DD, RFC 3339 with offset and fraction, all-digit text, milliseconds
      {R"({"filters":[{"field":"created_at","op":">=","value":"2024-03-01"}]})",
       R"({"filters":[{"field":"created_at","op":">=","value":"2024-03-01T01:00:00+01:00"}]})",
       R"({"filters":[{"field":"created_at","op":">=","value":"2024-02-29T23:00:00.000-01:00"}]})",
       R"({"filters":[{"field":"created_at","op":">=","value":"1709251200000"}]})",
       R"({"filters":[{"field":"created_at","op":">=","value":1709251200000}]})"},
      {R"({"filters":[{"field":"modified_at","op":"in","value":["2024-03-01T12:00:00.5Z"]}]})",
       R"({"filters":[{"field":"modified_at","op":"in","value":[1709294400500]}]})"},
      // exists defaults to true
      {R"({"filters":[{"field":"properties.x","op":"exists"}]})",
       R"({"filters":[{"field":"properties.x","op":"exists","value":true}]})"},
      // sort: a bare name is descending
      {R"({"sort":"title"})", R"({"sort":["title"]})", R"({"sort":[{"field":"title"}]})",
       R"({"sort":{"order":"desc","field":"title"}})"},
      // defaults spelled out
      {R"({})",
       R"({"limit":20,"window":100,"ef":0,"strategy":"auto","include_archived":false,
           "group_by_root":false,"text":"","semantic":"","vector":[],"filters":[],"sort":[],
           "facets":[],"aggregations":[],"cursor":"",
           "fusion":{"method":"rrf","k":60,"text_weight":1,"vector_weight":0.3},
           "explain":true,"cache":true})"},
      {R"({"facets":[{"field":"type"}]})", R"({"facets":[{"size":10,"field":"type"}]})"},
      {R"({"aggregations":[{"op":"count"}]})",
       R"({"aggregations":[{"op":"count","interval":"day"}]})"},
      // numbers and strings however written
      {R"({"filters":[{"field":"properties.x","op":"<","value":1.5}]})",
       R"({"filters":[{"field":"properties.x","op":"<","value":1.50}]})",
       R"({"filters":[{"field":"properties.x","op":"<","value":15e-1}]})",
       R"({"filters":[{"field":"properties.x","op":"<","value":0.15E+1}]})"},
      {R"({"vector":[0.1,2,-3.25]})", R"({"vector":[1e-1,2.0,-325e-2]})",
       R"({"vector":[0.100000001,2.00000000001,-3.25]})"},
      {R"({"text":"A\u00e9\n"})", "{\"text\":\"\\u0041\xC3\xA9\\u000a\"}"},
      {R"({"fusion":{"k":60.0,"text_weight":2}})", R"({"fusion":{"text_weight":2.0}})"},
  };
  for (const auto& group : groups) {
    if (group.size() < 2) continue;
    const std::string first = Canonical(group[0]);
    for (size_t i = 1; i < group.size(); ++i) {
      EXPECT_EQ(Canonical(group[i]), first) << group[0] << "\nvs\n" << group[i];
    }
  }
  EXPECT_EQ(Canonical(R"({"filters":[{"field":"created_at","op":">=","value":"2024-03-01"}]})"),
            R"({"filters":[{"field":"created_at","op":">=","value":1709251200000}]})");
  EXPECT_EQ(Canonical(R"({"vector":[0.1,2,-3.25]})"), R"({"vector":[0.1,2,-3.25]})");
  EXPECT_EQ(Canonical(R"({"filters":[{"field":"properties.x","op":"=","value":5.0}]})"),
            R"({"filters":[{"field":"properties.x","op":"=","value":5.0}]})");
}

TEST(QueryJson, HighlightTakesABooleanOrMarkers) {
  ASSERT_OK_AND_ASSIGN(Query on, ParseQueryJson(R"({"highlight":true})"));
  EXPECT_EQ(on.highlight_open, "<mark>");
  EXPECT_EQ(on.highlight_close, "</mark>");
  ASSERT_OK_AND_ASSIGN(Query own, ParseQueryJson(R"({"highlight":{"open":"[","close":"]"}})"));
  EXPECT_EQ(own.highlight_open, "[");
  EXPECT_EQ(own.highlight_close, "]");
  ASSERT_OK_AND_ASSIGN(Query off, ParseQueryJson(R"({"highlight":false})"));
  EXPECT_TRUE(off.highlight_open.empty());
  EXPECT_FALSE(ParseQueryJson(R"({"highlight":"yes"})").ok());
  EXPECT_FALSE(ParseQueryJson(R"({"highlight":{"begin":"["}})").ok());
}

TEST(QueryJson, DifferentQueriesPrintDifferently) {
  const std::vector<std::string> texts = {
      R"({"filters":[{"field":"properties.x","op":"=","value":5}]})",
      R"({"filters":[{"field":"properties.x","op":"=","value":5.0}]})",
      R"({"filters":[{"field":"properties.x","op":"=","value":"5"}]})",
      R"({"filters":[{"field":"properties.x","op":"=","value":true}]})",
      R"({"filters":[{"field":"properties.x","op":"=","value":null}]})",
      R"({"filters":[{"field":"properties.x","op":"in","value":[5]}]})",
      R"({"filters":[{"field":"properties.x","op":"exists","value":false}]})",
      R"({"filters":[{"field":"properties.x","op":"exists"}]})",
      R"({"filters":[{"not":{"field":"properties.x","op":"exists"}}]})",
      R"({"filters":[{"and":[{"field":"properties.x","op":"exists"}]}]})",
      R"({"filters":[{"or":[{"field":"properties.x","op":"exists"}]}]})",
      R"({"sort":[{"field":"title","order":"asc"}]})",
      R"({"sort":[{"field":"title","order":"desc"}]})",
      R"({"include_archived":true})",
      R"({"group_by_root":true})",
      R"({"highlight":true})",
      R"({"highlight":{"open":"[","close":"]"}})",
      R"({"cursor":"abc"})",
      R"({"limit":21})",
      R"({"window":101})",
      R"({"ef":1})",
      R"({"strategy":"filter_first"})",
      R"({"fusion":{"method":"weighted"}})",
      R"({"text":"a"})",
      R"({"text":"a","vector":[1]})",
      R"({"semantic":"a"})",
      R"({"facets":[{"field":"type","size":11}]})",
      R"({"aggregations":[{"op":"count","name":"n"}]})",
      R"({"filters":[{"under":"p"}]})",
      R"({"filters":[{"under":"p","depth":0}]})",
  };
  std::set<std::string> seen;
  for (const std::string& t : texts) {
    EXPECT_TRUE(seen.insert(Canonical(t)).second) << t << " prints like an earlier query";
  }
}

TEST(QueryJson, FloatsAndDoublesRoundTripExactly) {
  std::mt19937_64 rng(7);
  Query q;
  std::vector<QueryValue> doubles;
  for (int i = 0; i < 900; ++i) {
    const auto f = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    if (std::isfinite(f)) q.vector.push_back(f);
    const auto d = std::bit_cast<double>(rng());
    if (std::isfinite(d)) doubles.push_back(d);
  }
  for (float f : {std::numeric_limits<float>::min(), std::numeric_limits<float>::denorm_min(),
                  std::numeric_limits<float>::max(), -std::numeric_limits<float>::max()}) {
    q.vector.push_back(f);
  }
  for (double d : {std::numeric_limits<double>::max(), std::numeric_limits<double>::denorm_min(),
                   1e21, 1e-7, -0.0, 123456789012345678.0}) {
    doubles.push_back(d);
  }
  ASSERT_LE(doubles.size(), 1000u);  // QueryLimits::max_in_values
  q.filter = Filter::And({Filter::In("properties.x", doubles)});
  ExpectRoundTrip(q);
}

// Random valid queries survive QueryToJson -> ParseQueryJson unchanged.
class RandomQueries {
 public:
  explicit RandomQueries(uint64_t seed) : rng_(seed) {}

  Query Next() {
    Query q;
    if (Chance(2)) q.text = Pick<std::string>({"alpha", "beta gamma", "\"quoted\""});
    q.text_any = !q.text.empty() && Chance(3);
    if (Chance(3)) {
      q.vector.resize(1 + Uniform(8));
      for (float& x : q.vector) x = std::uniform_real_distribution<float>(-1, 1)(rng_);
    }
    if (q.vector.empty() && Chance(4)) q.semantic = "semantic text";
    const size_t n = Uniform(4);
    std::vector<Filter> top;
    for (size_t i = 0; i < n; ++i) top.push_back(Condition(1));
    q.filter = Filter::And(std::move(top));
    q.include_archived = Chance(4);
    if (Chance(3)) q.sort.push_back({q.ranked() && Chance(2) ? "score" : "created_at", Chance(2)});
    if (Chance(3)) q.sort.push_back({"properties.p" + std::to_string(Uniform(3)), Chance(2)});
    q.limit = 1 + Uniform(1000);
    if (Chance(4)) q.cursor = "c" + std::to_string(Uniform(100));
    q.group_by_root = Chance(4);
    if (Chance(3)) q.facets.push_back({"type", 1 + Uniform(50)});
    if (Chance(3)) {
      AggregationRequest a;
      a.kind = Pick<AggregationRequest::Kind>(
          {AggregationRequest::Kind::kMin, AggregationRequest::Kind::kMax,
           AggregationRequest::Kind::kSum, AggregationRequest::Kind::kDateHistogram});
      a.field = "modified_at";
      if (a.kind == AggregationRequest::Kind::kDateHistogram) {
        a.interval = Pick<std::string>({"day", "week", "month"});
      }
      if (Chance(2)) a.name = "agg";
      q.aggregations.push_back(a);
    }
    if (Chance(3)) q.fusion.rrf_k = 1 + Uniform(100) / 7.0;
    q.window = 1 + Uniform(10000);
    q.ef = Uniform(500);
    q.strategy = Pick<QueryStrategy>({QueryStrategy::kAuto, QueryStrategy::kFilterFirst,
                                      QueryStrategy::kVectorFirst, QueryStrategy::kHybrid});
    return q;
  }

 private:
  bool Chance(int one_in) { return Uniform(one_in) == 0; }
  size_t Uniform(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  template <typename T>
  T Pick(std::vector<T> options) {
    return options[Uniform(options.size())];
  }

  QueryValue PropertyValue() {
    switch (Uniform(5)) {
      case 0:
        return static_cast<int64_t>(rng_());
      case 1:
        return std::uniform_real_distribution<double>(-1e6, 1e6)(rng_);
      case 2:
        return std::string("v") + std::to_string(Uniform(10));
      case 3:
        return Chance(2);
      default:
        return std::monostate{};
    }
  }

  Filter Condition(int depth) {
    const size_t kind = Uniform(depth >= 4 ? 6 : 9);
    switch (kind) {
      case 0: {
        const Filter::Op op = Pick<Filter::Op>({Filter::Op::kEq, Filter::Op::kNe});
        return Filter::Compare("properties.p" + std::to_string(Uniform(3)), op, PropertyValue());
      }
      case 1:
        return Filter::Compare(
            "properties.n",
            Pick<Filter::Op>({Filter::Op::kLt, Filter::Op::kLe, Filter::Op::kGt, Filter::Op::kGe}),
            Chance(2) ? QueryValue(static_cast<int64_t>(Uniform(100))) : QueryValue(0.5));
      case 2: {
        std::vector<QueryValue> values;
        for (size_t i = 0, n = 1 + Uniform(4); i < n; ++i) {
          values.push_back(std::string("t") + std::to_string(i));
        }
        return Filter::In(Pick<std::string>({"type", "id", "parent_id"}), values);
      }
      case 3:
        return Filter::Compare(Pick<std::string>({"created_at", "modified_at"}),
                               Pick<Filter::Op>({Filter::Op::kGe, Filter::Op::kLt}),
                               static_cast<int64_t>(Uniform(2000000000000)));
      case 4:
        return Filter::Exists("properties.p" + std::to_string(Uniform(3)), Chance(2));
      case 5:
        return Pick<Filter>({Filter::Under("u", static_cast<int>(Uniform(4)) - 1),
                             Filter::Mentions("m"), Filter::MentionedBy("mb"),
                             Filter::InCollection("a:b"),
                             Filter::Compare("title", Filter::Op::kContains, std::string("x"))});
      case 6:
        return Filter::Not(Condition(depth + 1));
      default: {
        std::vector<Filter> children;
        for (size_t i = 0, n = Uniform(4); i < n; ++i) children.push_back(Condition(depth + 1));
        return kind == 7 ? Filter::And(std::move(children)) : Filter::Or(std::move(children));
      }
    }
  }

  std::mt19937_64 rng_;
};

TEST(QueryJson, RandomQueriesRoundTrip) {
  RandomQueries gen(42);
  for (int i = 0; i < 300; ++i) {
    SCOPED_TRACE(i);
    ExpectRoundTrip(gen.Next());
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// ---- dates ---------------------------------------------------------------------

TEST(QueryJson, DateStringsBecomeMilliseconds) {
  ASSERT_OK_AND_ASSIGN(
      Query q,
      ParseQueryJson(
          R"({"filters":[{"field":"created_at","op":"in","value":["2024-03-01",5,"2024-03-01T12:00:00Z"]}]})"));
  const Filter& f = q.filter.children[0];
  ASSERT_EQ(f.values.size(), 3u);
  EXPECT_EQ(f.values[0], QueryValue(int64_t{1709251200000}));
  EXPECT_EQ(f.values[1], QueryValue(int64_t{5}));
  EXPECT_EQ(f.values[2], QueryValue(int64_t{1709294400000}));

  // Property values are not timestamps: a date there stays text.
  ASSERT_OK_AND_ASSIGN(
      Query p,
      ParseQueryJson(R"({"filters":[{"field":"properties.due","op":"<","value":"2024-03-01"}]})"));
  EXPECT_EQ(p.filter.children[0].values[0], QueryValue(std::string("2024-03-01")));
}

TEST(QueryJson, CxxDateStringsValidateAndNormalize) {
  Query q = QueryBuilder()
                .Where(Filter::Compare("modified_at", Filter::Op::kGe, std::string("2024-03-01")))
                .Build();
  EXPECT_OK(ValidateQuery(q));
  // The cache key does not depend on the spelling.
  Query ms = QueryBuilder()
                 .Where(Filter::Compare("modified_at", Filter::Op::kGe, int64_t{1709251200000}))
                 .Build();
  EXPECT_EQ(QueryToJson(q), QueryToJson(ms));
  ASSERT_OK(query::NormalizeQuery(&q));
  EXPECT_EQ(q.filter.children[0].values[0], QueryValue(int64_t{1709251200000}));

  Query bad = QueryBuilder()
                  .Where(Filter::Compare("created_at", Filter::Op::kGe, std::string("yesterday")))
                  .Build();
  EXPECT_EQ(ValidateError(bad),
            "filters[0].value: invalid date 'yesterday' for created_at (expected milliseconds "
            "since the epoch, YYYY-MM-DD or RFC 3339 such as 2024-03-01T12:00:00Z)");
}

// ---- errors ------------------------------------------------------------------------

struct BadInput {
  std::string json;
  std::string message;  // the whole message, or its start when it ends in "..."
};

void ExpectError(const std::string& got, const std::string& want, const std::string& input) {
  const std::string_view ellipsis = "...";
  if (want.size() > 3 && want.compare(want.size() - 3, 3, ellipsis) == 0) {
    const std::string prefix = want.substr(0, want.size() - 3);
    EXPECT_EQ(got.substr(0, prefix.size()), prefix) << input << "\n  full message: " << got;
  } else {
    EXPECT_EQ(got, want) << input;
  }
}

TEST(QueryJson, BadInputsNameTheirPath) {
  const std::string in_1001 =
      R"({"filters":[{"field":"properties.x","op":"in","value":[)" + Repeat("1,", 1000) + "1]}]}";
  const std::string facets_17 =
      R"({"facets":[)" + Repeat(R"({"field":"type"},)", 16) + R"({"field":"lifecycle"}]})";
  const std::string aggs_17 = R"({"aggregations":[)" + Repeat(R"({"op":"count"},)", 16) +
                              R"({"op":"sum","field":"created_at"}]})";
  const std::vector<BadInput> cases = {
      // the examples the issue names
      {R"({"filters":[{"field":"type","op":"=","value":"a"},{"under":"x"},
                      {"field":"title","op":"lt=","value":"b"}]})",
       "filters[2].op: unknown operator 'lt=' (expected =, !=, <, <=, >, >=, in, exists, "
       "contains or starts_with)"},
      {R"({"limit":1000000000})", "limit: must be between 1 and 1000"},
      {R"({"filters":[{"and":[{"field":"type","op":"=","value":"a"},
                              {"field":"foo","op":"=","value":1}]}]})",
       "filters[0].and[1].field: unknown field 'foo' (properties are named 'properties.<path>')"},
      // JSON itself
      {R"({"text":"a",)",
       "invalid JSON at byte 13: syntax error while parsing object key - unexpected end of input; "
       "expected string literal"},
      {R"({"text":"a"} x)", "invalid JSON at byte 14: ..."},
      {"", "invalid JSON at byte 1: ..."},
      {R"({"vector":[1e400]})", "invalid JSON at byte ..."},
      {"{\"text\":\"\xFF\"}", "invalid JSON at byte ..."},
      {R"([1,2])", "expected a JSON object at the top level, got array"},
      {R"({"colour":"red"})", "colour: unknown key"},
      {R"({"a b":1})", "\"a b\": unknown key"},
      {R"({"limit":5,"limit":6})", "limit: duplicate key"},
      {R"({"filters":[{"field":"type","op":"=","value":"a","op":"!="}]})",
       "filters[0].op: duplicate key"},
      // top-level types and ranges
      {R"({"text":5})", "text: expected a string, got integer"},
      {R"({"limit":"5"})", "limit: expected an integer, got string"},
      {R"({"limit":5.0})", "limit: expected an integer, got number"},
      {R"({"limit":0})", "limit: must be between 1 and 1000"},
      {R"({"limit":-1})", "limit: must not be negative"},
      {R"({"limit":18446744073709551615})", "limit: must be between 1 and 1000"},
      {R"({"include_archived":"yes"})", "include_archived: expected a boolean, got string"},
      {R"({"cursor":null})", "cursor: expected a string, got null"},
      {R"({"window":0})", "window: must be between 1 and 10000"},
      {R"({"window":10001})", "window: must be between 1 and 10000"},
      {R"({"ef":10001})", "ef: must be at most 10000 (0: the index default)"},
      {R"({"strategy":"fast"})",
       "strategy: unknown strategy 'fast' (expected auto, filter_first, vector_first or hybrid)"},
      {R"({"text":"a","text_mode":"some"})", "text_mode: must be 'all' or 'any'"},
      {R"({"vector":[1],"semantic":"b"})", "semantic: cannot be combined with 'vector' ..."},
      {R"({"vector":"1,2"})", "vector: expected an array of numbers, got string"},
      {R"({"vector":[1,"2"]})", "vector[1]: expected a number, got string"},
      {R"({"vector":[1,1e39]})", "vector[1]: not a finite number"},
      {R"({"vector":[1,-1e300]})", "vector[1]: not a finite number"},
      // sort
      {R"({"sort":[{"field":"title","order":"up"}]})", "sort[0].order: must be 'asc' or 'desc'"},
      {R"({"sort":[{"field":"content"}]})", "sort[0].field: cannot sort by 'content' ..."},
      {R"({"sort":["title",{"field":"title","order":"asc"}]})",
       "sort[1].field: duplicate sort key 'title'"},
      {R"({"sort":["score"]})",
       "sort[0].field: 'score' needs a ranked query (text, vector or semantic)"},
      {R"({"sort":[5]})", "sort[0]: expected a field name or {\"field\", \"order\"}, got integer"},
      {R"({"sort":{"field":"title","dir":"asc"}})", "sort[0].dir: unknown key"},
      {R"({"sort":[{"order":"asc"}]})", "sort[0].field: missing"},
      {R"({"sort":["properties.a..b"]})",
       "sort[0].field: invalid property path 'properties.a..b' ..."},
      // facets
      {facets_17, "facets: at most 16 facets, got 17 (QueryLimits::max_facets)"},
      {R"({"facets":"type"})", "facets: expected an array, got string"},
      {R"({"facets":[{"field":"content"}]})",
       "facets[0].field: cannot facet on 'content' (facet on type, lifecycle, parent_id or "
       "properties.<path>)"},
      {R"({"facets":[{"field":"type","size":0}]})", "facets[0].size: must be between 1 and 1000"},
      {R"({"facets":[{"field":"type","size":1001}]})",
       "facets[0].size: must be between 1 and 1000"},
      {R"({"facets":[{"field":"type"},{"field":"type"}]})",
       "facets[1].field: duplicate facet 'type'"},
      {R"({"facets":[{"field":"type","top":3}]})", "facets[0].top: unknown key"},
      // aggregations
      {aggs_17, "aggregations: at most 16 aggregations, got 17 (QueryLimits::max_aggregations)"},
      {R"({"aggregations":[{"op":"median","field":"created_at"}]})",
       "aggregations[0].op: unknown aggregation 'median' (expected count, min, max, avg, sum or "
       "date_histogram)"},
      {R"({"aggregations":[{"field":"created_at"}]})", "aggregations[0].op: missing ..."},
      {R"({"aggregations":[{"op":"avg"}]})", "aggregations[0].field: 'avg' needs a field"},
      {R"({"aggregations":[{"op":"date_histogram","field":"title"}]})",
       "aggregations[0].field: cannot aggregate 'title' ..."},
      {R"({"aggregations":[{"op":"date_histogram","field":"created_at","interval":"year"}]})",
       "aggregations[0].interval: must be 'day', 'week' or 'month'"},
      {R"({"aggregations":[{"op":"sum","field":"properties.x","interval":"week"}]})",
       "aggregations[0].interval: only date_histogram takes an interval"},
      {R"({"aggregations":[{"op":"count"},{"op":"count"}]})",
       "aggregations[1].name: duplicate aggregation name 'count()'"},
      // fusion
      {R"({"fusion":{"method":"max"}})", "fusion.method: must be 'rrf' or 'weighted'"},
      {R"({"fusion":{"k":0}})", "fusion.k: must be a positive number"},
      {R"({"fusion":{"k":"60"}})", "fusion.k: expected a number, got string"},
      {R"({"fusion":{"text_weight":-1}})", "fusion.text_weight: must be a number >= 0"},
      {R"({"fusion":{"text_weight":0,"vector_weight":0}})",
       "fusion: text_weight and vector_weight cannot both be 0"},
      {R"({"fusion":{"alpha":1}})", "fusion.alpha: unknown key"},
      // condition shapes
      {R"({"filters":"type=task"})",
       "filters: expected an array of conditions or one condition object, got string"},
      {R"({"filters":[5]})", "filters[0]: expected a condition object, got integer"},
      {R"({"filters":[{}]})", "filters[0]: empty condition ..."},
      {R"({"filters":[{"field":"type","op":"=","value":"a","colour":1}]})",
       "filters[0].colour: unknown key"},
      {R"({"filters":[{"and":[],"or":[]}]})",
       "filters[0]: 'and' and 'or' cannot be combined in one condition (nest them in an 'and')"},
      {R"({"filters":[{"under":"p","field":"type"}]})",
       "filters[0]: 'under' and 'field' cannot be combined ..."},
      {R"({"filters":[{"and":{"under":"p"}}]})",
       "filters[0].and: expected an array of conditions, got object"},
      {R"({"filters":[{"not":[{"under":"a"}]}]})",
       "filters[0].not: expected a condition object, got array"},
      {R"({"filters":{"or":[{"field":"x","op":"=","value":1}]}})",
       "filters[0].or[0].field: unknown field 'x' ..."},
      // comparisons
      {R"({"filters":[{"field":"type","value":"a"}]})", "filters[0].op: missing ..."},
      {R"({"filters":[{"field":"type","op":5}]})", "filters[0].op: expected a string, got integer"},
      {R"({"filters":[{"op":"=","value":"a"}]})", "filters[0].field: missing"},
      {R"({"filters":[{"field":"type","op":"="}]})", "filters[0].value: missing"},
      {R"({"filters":[{"field":"properties","op":"exists"}]})",
       "filters[0].field: unknown field 'properties' ..."},
      {R"({"filters":[{"field":"properties.a..b","op":"exists"}]})",
       "filters[0].field: invalid property path 'properties.a..b' (parts of letters, digits, '_' "
       "or '-' separated by '.')"},
      {R"({"filters":[{"field":"properties.a b","op":"exists"}]})",
       "filters[0].field: invalid property path 'properties.a b' ..."},
      {R"({"filters":[{"field":"properties.a.","op":"exists"}]})",
       "filters[0].field: invalid property path ..."},
      {R"({"filters":[{"field":"type","op":"=","value":5}]})",
       "filters[0].value: expected a string for type, got integer"},
      {R"({"filters":[{"field":"parent_id","op":"=","value":null}]})",
       "filters[0].value: expected a string for parent_id, got null"},
      {R"({"filters":[{"field":"lifecycle","op":"=","value":"gone"}]})",
       "filters[0].value: unknown lifecycle 'gone' (expected active, archived or deleted)"},
      {R"({"filters":[{"field":"lifecycle","op":"<","value":"active"}]})",
       "filters[0].op: '<' does not apply to lifecycle (use =, !=, in or exists)"},
      {R"({"filters":[{"field":"created_at","op":">","value":"2024-13-01"}]})",
       "filters[0].value: invalid date '2024-13-01' for created_at ..."},
      {R"({"filters":[{"field":"created_at","op":">","value":"2024-03-01T25:00:00Z"}]})",
       "filters[0].value: invalid date '2024-03-01T25:00:00Z' for created_at ..."},
      {R"({"filters":[{"field":"modified_at","op":">","value":true}]})",
       "filters[0].value: expected milliseconds since the epoch or a date string for "
       "modified_at, got boolean"},
      {R"({"filters":[{"field":"created_at","op":">","value":1.5}]})",
       "filters[0].value: expected milliseconds since the epoch or a date string for "
       "created_at, got number"},
      {R"({"filters":[{"field":"created_at","op":"contains","value":"2024"}]})",
       "filters[0].op: 'contains' does not apply to created_at, a timestamp (use <, <=, >, >=)"},
      {R"({"filters":[{"field":"properties.x","op":"<","value":true}]})",
       "filters[0].value: '<' needs a number or a string, got boolean"},
      {R"({"filters":[{"field":"properties.x","op":">=","value":null}]})",
       "filters[0].value: '>=' needs a number or a string, got null"},
      {R"({"filters":[{"field":"properties.x","op":"<","value":[1]}]})",
       "filters[0].value: expected a single value, got array (use op 'in' for a list)"},
      {R"({"filters":[{"field":"properties.x","op":"=","value":{"a":1}}]})",
       "filters[0].value: expected a string, number, boolean or null, got object"},
      {R"({"filters":[{"field":"properties.x","op":"contains","value":3}]})",
       "filters[0].value: 'contains' needs a string, got integer"},
      {R"({"filters":[{"field":"title","op":"starts_with","value":false}]})",
       "filters[0].value: expected a string for title, got boolean"},
      {R"({"filters":[{"field":"properties.x","op":"in","value":[]}]})",
       "filters[0].value: 'in' needs at least one value"},
      {R"({"filters":[{"field":"properties.x","op":"in","value":"a"}]})",
       "filters[0].value: expected an array of values for 'in', got string"},
      {R"({"filters":[{"field":"properties.x","op":"in","value":[1,[2]]}]})",
       "filters[0].value[1]: expected a string, number, boolean or null, got array"},
      {R"({"filters":[{"field":"type","op":"in","value":["a",3]}]})",
       "filters[0].value[1]: expected a string for type, got integer"},
      {in_1001,
       "filters[0].value: 'in' takes at most 1000 values, got 1001 (QueryLimits::max_in_values)"},
      {R"({"filters":[{"field":"properties.x","op":"exists","value":"yes"}]})",
       "filters[0].value: 'exists' takes true or false"},
      {R"({"filters":[{"field":"properties.x","op":"=","value":18446744073709551615}]})",
       "filters[0].value: integer out of range (at most 2^63-1)"},
      // structural conditions
      {R"({"filters":[{"under":""}]})", "filters[0].under: missing node id"},
      {R"({"filters":[{"depth":2}]})",
       "filters[0].under: missing (the node whose subtree to search)"},
      {R"({"filters":[{"under":"a","depth":-2}]})",
       "filters[0].depth: must be 0 or more (omit it for any depth)"},
      {R"({"filters":[{"under":"a","depth":1.5}]})",
       "filters[0].depth: expected an integer, got number"},
      {R"({"filters":[{"under":"a","depth":3000000000}]})", "filters[0].depth: out of range"},
      {R"({"filters":[{"collection":"a::b"}]})",
       "filters[0].collection: collection path 'a::b' has an empty part"},
      {R"({"filters":[{"collection":":a"}]})",
       "filters[0].collection: collection path ':a' has an empty part"},
      {R"({"filters":[{"mentions":5}]})", "filters[0].mentions: expected a string, got integer"},
      {R"({"filters":[{"mentioned_by":""}]})", "filters[0].mentioned_by: missing node id"},
  };
  for (const BadInput& c : cases) ExpectError(ParseError(c.json), c.message, c.json);
}

TEST(QueryJson, LongUserTextIsCutInMessages) {
  const std::string value(10000, 'x');
  const std::string message =
      ParseError(R"({"filters":[{"field":"type","op":")" + value + R"(","value":"a"}]})");
  EXPECT_LT(message.size(), 300u) << message;
  EXPECT_EQ(message.substr(0, 36), "filters[0].op: unknown operator 'xxx");
}

TEST(QueryJson, LimitsAreConfigurable) {
  QueryLimits limits;
  limits.max_limit = 50;
  limits.max_window = 200;
  EXPECT_EQ(ParseError(R"({"limit":51})", limits), "limit: must be between 1 and 50");
  EXPECT_EQ(ParseError(R"({"limit":50,"window":200})", limits), "OK");
  EXPECT_EQ(ParseError(R"({"window":201})", limits), "window: must be between 1 and 200");

  limits.max_json_bytes = 20;
  const std::string long_text = R"({"text":"twenty-one bytes"})";
  EXPECT_EQ(ParseError(long_text, limits),
            "query JSON is " + std::to_string(long_text.size()) +
                " bytes, more than the limit of 20 (QueryLimits::max_json_bytes)");
  EXPECT_EQ(ParseError(R"({"text":"ok"})", limits), "OK");
}

TEST(QueryJson, OversizeInputIsRefusedBeforeParsing) {
  const std::string big = R"({"text":")" + std::string(2 << 20, 'a') + R"("})";
  EXPECT_EQ(ParseError(big), "query JSON is " + std::to_string(big.size()) +
                                 " bytes, more than the limit of 1048576 "
                                 "(QueryLimits::max_json_bytes)");
}

std::string NestedAnd(size_t levels) {
  return R"({"filters":[)" + Repeat(R"({"and":[)", levels) + kLeaf + Repeat("]}", levels) + "]}";
}

std::string NestedNot(size_t levels) {
  return R"({"filters":[)" + Repeat(R"({"not":)", levels) + kLeaf + Repeat("}", levels) + "]}";
}

TEST(QueryJson, NestingDepthIsLimited) {
  // The leaf under 31 ANDs is at depth 32, the limit.
  EXPECT_EQ(ParseError(NestedAnd(31)), "OK");
  EXPECT_EQ(ParseError(NestedAnd(32)),
            "filters[0]" + Repeat(".and[0]", 32) + ": nesting deeper than 32");
  EXPECT_EQ(ParseError(NestedNot(31)), "OK");
  EXPECT_EQ(ParseError(NestedNot(40)),
            "filters[0]" + Repeat(".not", 32) + ": nesting deeper than 32");

  // Hostile depth is refused while reading, with the path where it went too deep.
  EXPECT_EQ(ParseError(NestedAnd(1000)),
            "filters[0]" + Repeat(".and[0]", 35) +
                ": JSON nested deeper than 72 levels (filters may nest 32 deep)");
  EXPECT_EQ(ParseError(NestedNot(1000)),
            "filters[0]" + Repeat(".not", 70) +
                ": JSON nested deeper than 72 levels (filters may nest 32 deep)");
  const std::string deep_value = R"({"filters":[{"field":"properties.x","op":"in","value":)" +
                                 Repeat("[", 100000) + Repeat("]", 100000) + "}]}";
  EXPECT_EQ(ParseError(deep_value), "filters[0].value" + Repeat("[0]", 69) +
                                        ": JSON nested deeper than 72 levels (filters may nest "
                                        "32 deep)");
  // Unbalanced garbage of the same depth too.
  EXPECT_EQ(ParseError(Repeat("[", 1000000)).substr(0, 4), "[0][");

  QueryLimits shallow;
  shallow.max_filter_depth = 2;
  EXPECT_EQ(ParseError(NestedAnd(1), shallow), "OK");
  EXPECT_EQ(ParseError(NestedAnd(2), shallow), "filters[0].and[0].and[0]: nesting deeper than 2");
}

TEST(QueryJson, ConditionCountIsLimited) {
  std::string conditions = Repeat(std::string(kLeaf) + ",", 255) + kLeaf;
  EXPECT_EQ(ParseError(R"({"filters":[)" + conditions + "]}"), "OK");
  EXPECT_EQ(ParseError(R"({"filters":[)" + conditions + "," + kLeaf + "]}"),
            "filters[256]: more than 256 conditions (QueryLimits::max_filter_conditions)");
  // and/or/not count as conditions too.
  EXPECT_EQ(ParseError(R"({"filters":[{"or":[)" + conditions + "]}]}"),
            "filters[0].or[255]: more than 256 conditions (QueryLimits::max_filter_conditions)");
}

// ---- ValidateQuery on queries built in C++ ----------------------------------------

TEST(QueryJson, ValidateQueryNamesPathsLikeJson) {
  Query q = QueryBuilder()
                .Where(Filter::Eq("type", "a"))
                .Where(Filter::And({Filter::Eq("type", "a"), Filter::Eq("foo", int64_t{1})}))
                .Build();
  const std::string want =
      "filters[1].and[1].field: unknown field 'foo' (properties are named 'properties.<path>')";
  EXPECT_EQ(ValidateError(q), want);
  EXPECT_EQ(ParseError(QueryToJson(q)), want);

  // A root that is not an AND is named as QueryToJson prints it: filters[0].
  Query root_or;
  root_or.filter = Filter::Or({Filter::Eq("type", "a"), Filter::Eq("properties.x", true)});
  EXPECT_OK(ValidateQuery(root_or));
  root_or.filter.children[1].op = Filter::Op::kContains;
  EXPECT_EQ(ValidateError(root_or),
            "filters[0].or[1].value: 'contains' needs a string, got boolean");
  EXPECT_EQ(ParseError(QueryToJson(root_or)), ValidateError(root_or));

  Query two_nots;
  two_nots.filter = Filter::And({Filter::Not(Filter::Under("a"))});
  two_nots.filter.children[0].children.push_back(Filter::Under("b"));
  EXPECT_EQ(ValidateError(two_nots), "filters[0].not: expected exactly one condition, got 2");
  EXPECT_EQ(ParseError(QueryToJson(two_nots)),
            "filters[0].not: expected a condition object, got array");

  EXPECT_EQ(ValidateError(QueryBuilder().Limit(1000000000).Build()),
            "limit: must be between 1 and 1000");
  EXPECT_EQ(ValidateError(QueryBuilder().Limit(0).Build()), "limit: must be between 1 and 1000");
  EXPECT_EQ(ValidateError(QueryBuilder().Window(0).Build()), "window: must be between 1 and 10000");

  Query exists_without_value = QueryBuilder().Where(Filter::Exists("properties.x")).Build();
  exists_without_value.filter.children[0].values.clear();
  EXPECT_EQ(ValidateError(exists_without_value), "filters[0].value: 'exists' takes true or false");

  Query two_values = QueryBuilder().Where(Filter::Eq("type", "a")).Build();
  two_values.filter.children[0].values.push_back(std::string("b"));
  EXPECT_EQ(ValidateError(two_values),
            "filters[0].value: '=' takes one value, got 2 (use 'in' for a list)");

  EXPECT_EQ(ValidateError(QueryBuilder().Where(Filter::Eq("properties.x", std::nan(""))).Build()),
            "filters[0].value: not a finite number");
  EXPECT_EQ(ValidateError(QueryBuilder().Vector({1, INFINITY}).Build()),
            "vector[1]: not a finite number");
  EXPECT_EQ(ValidateError(QueryBuilder().Text("bad \xC3(").Build()), "text: not valid UTF-8");
  EXPECT_EQ(ValidateError(QueryBuilder().Where(Filter::Eq("title", "\xFF")).Build()),
            "filters[0].value: not valid UTF-8");
  EXPECT_EQ(ValidateError(QueryBuilder().Where(Filter::Under("a", -2)).Build()),
            "filters[0].depth: must be 0 or more (omit it for any depth)");
  EXPECT_EQ(ValidateError(QueryBuilder().Where(Filter::InCollection("a:")).Build()),
            "filters[0].collection: collection path 'a:' has an empty part");

  FusionOptions nan_k;
  nan_k.rrf_k = std::nan("");
  EXPECT_EQ(ValidateError(QueryBuilder().Fusion(nan_k).Build()),
            "fusion.k: must be a positive number");

  AggregationRequest count_a;
  count_a.name = "n";
  AggregationRequest count_b = count_a;
  EXPECT_EQ(ValidateError(QueryBuilder().Aggregate(count_a).Aggregate(count_b).Build()),
            "aggregations[1].name: duplicate aggregation name 'n'");
  AggregationRequest interval_on_count;
  interval_on_count.interval = "month";
  EXPECT_EQ(ValidateError(QueryBuilder().Aggregate(interval_on_count).Build()),
            "aggregations[0].interval: only date_histogram takes an interval");
}

TEST(QueryJson, ValidateQueryHandlesHostileDepthWithoutRecursion) {
  Filter deep = Filter::Under("leaf");
  for (int i = 0; i < 5000; ++i) deep = Filter::Not(std::move(deep));
  Query q;
  q.filter = Filter::And({});
  q.filter.children.push_back(std::move(deep));
  EXPECT_EQ(ValidateError(q), "filters[0]" + Repeat(".not", 32) + ": nesting deeper than 32");
  // Printing does not recurse either; the printed query fails the same way.
  const std::string json = QueryToJson(q);
  EXPECT_EQ(json.substr(0, 20), R"({"filters":[{"not":{)");
  QueryLimits roomy;
  roomy.max_json_bytes = 1 << 30;
  ExpectError(ParseError(json, roomy), "filters[0].not.not...", "deep printed query");
  // Unwind the chain iteratively: the default destructor would recurse 5000 deep.
  Filter current = std::move(q.filter.children[0]);
  while (!current.children.empty()) {
    Filter next = std::move(current.children[0]);
    current = std::move(next);
  }
}

}  // namespace
}  // namespace nodespace
