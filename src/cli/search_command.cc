#include "cli/search_command.h"

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "io/node_json.h"
#include "model/ids.h"

namespace nodespace::cli {

CLI::App* AddSearchCommand(CLI::App& app, SearchArgs& args) {
  auto* cmd = app.add_subcommand("search", "full-text search (BM25); see docs/API.md for syntax");
  cmd->add_option("query", args.query, "words, \"phrases\", prefix*, AND/OR/NOT, -word");
  cmd->add_option("-n,--limit", args.limit, "number of results")->check(CLI::Range(1, 10000));
  cmd->add_flag("-a,--all", args.include_archived, "include archived and trashed nodes");
  cmd->add_flag("--group", args.group_by_root, "one result per tree root");
  cmd->add_flag("--strict", args.strict,
                "only nodes that contain the whole query (no subtree or any-term matches)");
  cmd->add_option("--title-weight", args.title_weight, "weight of a title match")
      ->check(CLI::Range(0.0, 1000.0));
  cmd->add_flag("--semantic", args.semantic,
                "nearest nodes by meaning (fits the built-in embedder on first use)");
  cmd->add_option("--vector", args.vector_json,
                  "nearest nodes to this JSON array (the query argument is ignored)");
  cmd->add_flag("--exact", args.exact, "vector search: score every vector, no graph");
  cmd->add_option("--ef", args.ef, "vector search effort (graph beam width)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--type", args.types, "vector search: only nodes of this type (repeatable)");
  cmd->add_option("--under", args.under, "vector search: only this node's subtree");
  cmd->add_option("--where", args.where,
                  "vector search: property PATH=V1,V2 (text equality; repeatable)");
  cmd->add_option("--created-from", args.created_from, "vector search: created at or after");
  cmd->add_option("--created-before", args.created_before, "vector search: created before");
  return cmd;
}

namespace {

Result<VectorSearchOptions> VectorQuery(const SearchArgs& args) {
  VectorSearchOptions o;
  o.k = args.limit;
  o.exact = args.exact;
  o.ef = args.ef;
  if (!args.vector_json.empty()) {
    auto v = nlohmann::json::parse(args.vector_json, nullptr, false);
    if (!v.is_array() || v.empty()) {
      return Status::InvalidArgument("--vector must be a non-empty JSON array of numbers");
    }
    for (const auto& x : v) {
      if (!x.is_number()) return Status::InvalidArgument("--vector holds a non-number");
      o.vector.push_back(x.get<float>());
    }
  } else {
    o.text = args.query;
  }
  o.filter.node_types = args.types;
  o.filter.under = args.under;
  for (const std::string& w : args.where) {
    size_t eq = w.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("--where '" + w + "' must look like PATH=VALUE[,VALUE...]");
    }
    SearchFilter::PropertyIn p;
    p.path = w.substr(0, eq);
    std::string values = w.substr(eq + 1);
    size_t start = 0;
    while (true) {
      size_t comma = values.find(',', start);
      p.values.push_back(values.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    o.filter.properties.push_back(std::move(p));
  }
  auto time = [](const std::string& text, const char* flag,
                 std::optional<TimestampMs>& out) -> Status {
    if (text.empty()) return Status::OK();
    TimestampMs t = 0;
    if (!ids::ParseTimestamp(text, &t)) {
      return Status::InvalidArgument(std::string(flag) + " '" + text +
                                     "' is not a date (YYYY-MM-DD) or RFC 3339 time");
    }
    out = t;
    return Status::OK();
  };
  NS_RETURN_IF_ERROR(time(args.created_from, "--created-from", o.filter.created_from));
  NS_RETURN_IF_ERROR(time(args.created_before, "--created-before", o.filter.created_before));
  return o;
}

int RunVectorSearch(Database& db, const SearchArgs& args, bool json, std::ostream& out,
                    std::ostream& err) {
  auto fail = [&](const Status& st) {
    err << "error: " << st.message() << "\n";
    return kExitError;
  };
  Result<VectorSearchOptions> options = VectorQuery(args);
  if (!options.ok()) return fail(options.status());
  if (args.semantic && args.vector_json.empty()) {
    // First semantic search on a database without vectors: fit the built-in
    // embedder on its text. Later ones embed what changed since.
    Result<EmbedReport> pending = db.EmbedPending();
    if (!pending.ok()) return fail(pending.status());
    // Stats (it counts rows) only when no embedder is configured yet.
    Result<DatabaseStats> stats = pending->model.empty() ? db.Stats() : DatabaseStats{};
    if (!stats.ok()) return fail(stats.status());
    if (pending->model.empty() && stats->embedding_count == 0) {
      err << "fitting the built-in embedder on this database's text...\n";
      Result<EmbedReport> fitted = db.FitBuiltinEmbedder();
      if (!fitted.ok()) return fail(fitted.status());
      err << "embedded " << fitted->embedded << " nodes with " << fitted->model << "\n";
    }
  }
  Result<VectorSearchResult> result = db.SearchVector(*options);
  if (!result.ok()) return fail(result.status());
  if (json) {
    nlohmann::json hits = nlohmann::json::array();
    for (const VectorHit& h : result->hits) {
      hits.push_back(
          {{"id", h.node.id}, {"distance", h.distance}, {"node", io::NodeToJson(h.node, false)}});
    }
    out << nlohmann::json({{"hits", hits},
                           {"plan", result->plan},
                           {"allowed_count", result->allowed_count},
                           {"index_size", result->index_size}})
               .dump()
        << "\n";
    return kExitOk;
  }
  if (result->hits.empty()) out << "no matches\n";
  for (const VectorHit& h : result->hits) {
    char dist[32];
    std::snprintf(dist, sizeof(dist), "%.4f", h.distance);
    std::string text = h.node.title.empty() ? h.node.content : h.node.title;
    text = text.substr(0, text.find('\n'));
    if (text.size() > 100) text = text.substr(0, 100) + "...";
    out << dist << "  " << h.node.id << "  " << text << "\n";
  }
  return kExitOk;
}

}  // namespace

CLI::App* AddEmbedCommand(CLI::App& app, EmbedArgs& args) {
  auto* cmd = app.add_subcommand(
      "embed", "fit (or refit) the built-in embedder on this database and embed every node");
  cmd->add_option("--dims", args.dims, "vector dimensions")->check(CLI::Range(2, 4096));
  cmd->add_option("--url", args.url,
                  "use an OpenAI-compatible embedding server instead (POST URL/v1/embeddings); "
                  "API key from $NODESPACE_EMBEDDER_KEY");
  cmd->add_option("--model", args.model, "the server's model name (with --url)");
  cmd->add_flag("--pending", args.pending,
                "only embed nodes that have no vector yet, with the configured embedder");
  return cmd;
}

int RunEmbed(Database& db, const EmbedArgs& args, bool json, std::ostream& out, std::ostream& err) {
  Result<EmbedReport> r = EmbedReport{};
  if (args.pending) {
    r = db.EmbedPending();
  } else if (!args.url.empty()) {
    ExternalEmbedderOptions o;
    o.base_url = args.url;
    o.model = args.model;
    o.dims = args.dims;
    if (const char* key = std::getenv("NODESPACE_EMBEDDER_KEY")) o.api_key = key;
    r = db.UseExternalEmbedder(o);
  } else {
    r = db.FitBuiltinEmbedder(args.dims);  // 0: the stored dimension, or 256
  }
  if (!r.ok()) {
    err << "error: " << r.status().message() << "\n";
    return kExitError;
  }
  if (json) {
    out << nlohmann::json({{"model", r->model},
                           {"embedded", r->embedded},
                           {"without_terms", r->without_terms},
                           {"fit_seconds", r->fit_seconds}})
               .dump()
        << "\n";
  } else {
    if (r->fit_seconds > 0) out << "fitted " << r->model << " in " << r->fit_seconds << " s; ";
    out << "embedded " << r->embedded << " nodes";
    if (r->without_terms > 0) out << " (" << r->without_terms << " have no known words)";
    out << "\n";
  }
  return kExitOk;
}

int RunSearch(Database& db, const SearchArgs& args, bool json, std::ostream& out,
              std::ostream& err) {
  if (!args.vector_json.empty()) return RunVectorSearch(db, args, json, out, err);
  if (args.query.empty()) {
    err << "error: give a query (or --vector)\n";
    return kExitUsage;
  }
  if (args.semantic) return RunVectorSearch(db, args, json, out, err);
  TextSearchOptions options;
  options.query = args.query;
  options.limit = args.limit;
  options.include_archived = args.include_archived;
  options.group_by_root = args.group_by_root;
  options.title_weight = args.title_weight;
  options.match_subtrees = !args.strict;
  options.any_term_fallback = !args.strict;
  if (!json) {
    options.highlight_open = "[";
    options.highlight_close = "]";
  }
  Result<TextSearchResult> result = db.SearchText(options);
  if (!result.ok()) {
    err << "error: " << result.status().message() << "\n";
    return kExitError;
  }
  if (json) {
    nlohmann::json hits = nlohmann::json::array();
    for (const TextHit& h : result->hits) {
      hits.push_back({{"id", h.node.id},
                      {"score", h.score},
                      {"match", TextMatchName(h.match)},
                      {"snippet", h.snippet},
                      {"matched_ids", h.matched_ids},
                      {"node", io::NodeToJson(h.node, false)}});
    }
    out << nlohmann::json(
               {{"hits", hits}, {"fts_query", result->fts_query}, {"ranked_by", result->ranked_by}})
               .dump()
        << "\n";
    return kExitOk;
  }
  if (result->hits.empty()) {
    out << "no matches\n";
    return kExitOk;
  }
  for (const TextHit& h : result->hits) {
    char score[32];
    std::snprintf(score, sizeof(score), "%.3f", h.score);
    out << score << "  " << h.node.id << "  " << (h.snippet.empty() ? h.node.title : h.snippet);
    if (h.match != TextMatch::kAllTerms) out << "  (" << TextMatchName(h.match) << ")";
    out << "\n";
  }
  return kExitOk;
}

}  // namespace nodespace::cli
