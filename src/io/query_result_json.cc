#include "io/query_result_json.h"

#include "io/node_json.h"

namespace nodespace::io {

nlohmann::json ExplainToJson(const QueryExplain& e) {
  nlohmann::json stages = nlohmann::json::array();
  for (const QueryExplain::Stage& s : e.stages) {
    stages.push_back({{"name", s.name}, {"rows", s.rows}, {"ms", s.ms}, {"detail", s.detail}});
  }
  return {{"pattern",
           {{"has_vector", e.has_vector},
            {"has_text", e.has_text},
            {"has_filters", e.has_filters},
            {"expected_result_size", e.expected_result_size},
            {"filter_selectivity", e.filter_selectivity},
            {"text_match_estimate", e.text_match_estimate},
            {"query_frequency", e.query_frequency},
            {"node_count", e.node_count},
            {"vector_count", e.vector_count}}},
          {"strategy", e.strategy},
          {"forced", e.forced},
          {"estimated_cost_us", e.estimated_cost_us},
          {"stages", std::move(stages)},
          {"cache_hit", e.cache_hit},
          {"total_ms", e.total_ms}};
}

nlohmann::json QueryResultToJson(const QueryResult& result, bool with_explain) {
  nlohmann::json hits = nlohmann::json::array();
  for (const QueryHit& h : result.hits) {
    nlohmann::json hit = {{"node", NodeToJson(h.node, /*with_embedding=*/false)},
                          {"score", h.score}};
    if (h.text_score) hit["text_score"] = *h.text_score;
    if (h.text_rank) hit["text_rank"] = *h.text_rank;
    if (h.vector_distance) hit["vector_distance"] = *h.vector_distance;
    if (h.vector_rank) hit["vector_rank"] = *h.vector_rank;
    if (!h.matched_ids.empty()) hit["matched_ids"] = h.matched_ids;
    if (!h.snippet.empty()) hit["snippet"] = h.snippet;
    hits.push_back(std::move(hit));
  }
  nlohmann::json out = {
      {"hits", std::move(hits)},
      {"next_cursor",
       result.next_cursor.empty() ? nlohmann::json(nullptr) : nlohmann::json(result.next_cursor)}};
  if (result.total_matches >= 0) out["total_matches"] = result.total_matches;
  if (!result.facets.empty()) {
    nlohmann::json facets = nlohmann::json::array();
    for (const FacetResult& f : result.facets) {
      nlohmann::json values = nlohmann::json::array();
      for (const FacetCount& c : f.values)
        values.push_back({{"value", c.value}, {"count", c.count}});
      facets.push_back({{"field", f.field}, {"values", values}, {"other_count", f.other_count}});
    }
    out["facets"] = std::move(facets);
  }
  if (!result.aggregations.empty()) {
    nlohmann::json aggs = nlohmann::json::array();
    for (const AggregationResult& a : result.aggregations) {
      nlohmann::json agg = {{"name", a.name}};
      if (a.value) agg["value"] = *a.value;
      if (!a.buckets.empty() || !a.value) {
        nlohmann::json buckets = nlohmann::json::array();
        for (const HistogramBucket& b : a.buckets) {
          buckets.push_back({{"key", b.key}, {"count", b.count}});
        }
        agg["buckets"] = std::move(buckets);
      }
      aggs.push_back(std::move(agg));
    }
    out["aggregations"] = std::move(aggs);
  }
  if (with_explain) out["explain"] = ExplainToJson(result.explain);
  return out;
}

}  // namespace nodespace::io
