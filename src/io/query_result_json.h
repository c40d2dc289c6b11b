// JSON form of a query result, shared by the CLI and the HTTP server.
// docs/API.md ("Query results") describes it.
#pragma once

#include <nlohmann/json.hpp>

#include "nodespace/query.h"

namespace nodespace::io {

// {"hits": [{"node": {...}, "score", "text_score", "text_rank",
//   "vector_distance", "vector_rank", "matched_ids"}], "next_cursor",
//  "total_matches", "facets": [...], "aggregations": [...],
//  "explain": {...} (only when `with_explain`)}
nlohmann::json QueryResultToJson(const QueryResult& result, bool with_explain);

nlohmann::json ExplainToJson(const QueryExplain& explain);

}  // namespace nodespace::io
