// Queries and embeddings.
#include "io/query_result_json.h"
#include "server/server_state.h"

namespace nodespace::server {

// A query from a request body, confined to the caller's scopes.
Query ScopedQuery(const ServerState& state, const Call& call, const std::string& json) {
  Query query = Value(ParseQueryJson(json, state.options.database.query_limits), true);
  if (call.principal.scoped()) {
    query.filter = Filter::And({std::move(query.filter), ScopeFilter(call.principal)});
  }
  return query;
}

void AddQueryRoutes(ServerState& state, std::vector<Route>* routes) {
  ServerState* s = &state;

  AddRoute(routes, "POST", "/v1/query", Role::kRead, ScopeRule::kHandler,
           "Runs a query (docs/API.md, Query JSON): text, vector, semantic or hybrid "
           "ranking, filters, sort, cursors, facets, aggregations; \"explain\": true adds "
           "the plan",
           [s](Call& call) {
             Query query = ScopedQuery(*s, call, call.req.body);
             auto db = s->Db();
             QueryResult result = Value(db->RunQuery(query));
             return Reply::Json(io::QueryResultToJson(result, query.explain));
           });

  AddRoute(
      routes, "POST", "/v1/embeddings", Role::kRead, ScopeRule::kNone,
      "OpenAI-compatible embeddings from the database's embedder: {input: string | "
      "[string], model?}",
      [s](Call& call) {
        nlohmann::json body = call.Body();
        std::vector<std::string> texts;
        const nlohmann::json input =
            body.is_object() ? body.value("input", nlohmann::json()) : nlohmann::json();
        if (input.is_string()) {
          texts.push_back(input.get<std::string>());
        } else if (input.is_array() && !input.empty()) {
          for (const auto& t : input) {
            if (!t.is_string()) throw ApiError::BadRequest("input: expected strings");
            texts.push_back(t.get<std::string>());
          }
        } else {
          throw ApiError::BadRequest("input: expected a string or a non-empty array of strings");
        }
        if (texts.size() > 2048) throw ApiError::PayloadTooLarge("input: at most 2048 texts");
        std::string model;
        std::vector<std::vector<float>> vectors;
        {
          auto db = s->Db();
          vectors = Value(db->Embed(texts, &model));
        }
        nlohmann::json data = nlohmann::json::array();
        size_t tokens = 0;
        for (size_t i = 0; i < vectors.size(); ++i) {
          if (vectors[i].empty()) {
            ApiError e{422, "unembeddable",
                       "input[" + std::to_string(i) +
                           "]: none of its words occur in this database's text"};
            throw e;
          }
          for (char c : texts[i]) tokens += c == ' ';
          tokens += 1;
          data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", vectors[i]}});
        }
        return Reply::Json({{"object", "list"},
                            {"data", data},
                            {"model", model},
                            {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
      });
}

}  // namespace nodespace::server
